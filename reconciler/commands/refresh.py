"""`reconciler refresh`: bring the state up to date with the vendors and the disk.

It takes the state lock, turns intents left pending by a dead writer into
``unknown``, asks the vendor once about every unfinished render, downloads the
outputs of finished ones, checks every published output file (missing, sha256 changed
or not a video: downloaded again while the vendor can give it, else lost, so the next
plan proposes to render it again), and writes state and manifest. It never starts a
render: it only finds out.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from reconciler.commands.apply import check_credentials, report_takeover
from reconciler.apply.engine import Engine, ProviderSet, to_collect
from reconciler.apply.events import make_hooks
from reconciler.model import Status
from reconciler.state import store as state_store
from reconciler.state.store import Store


def run(project) -> int:
    from rich.console import Console

    config = project.config()
    out = Console()
    lock = state_store.writer_lock(config).acquire("refresh")
    try:
        report_takeover(lock)
        store = state_store.open_store(config)
        try:
            check_credentials(config, {v.provider for v in store.recorded().values() if to_collect(v)})
            hooks = make_hooks()
            engine = Engine(config, store, ProviderSet(config), hooks, holder="refresh")
            lost = asyncio.run(_refresh(engine, hooks))
            _summarize(out, engine, store, lost)
        finally:
            store.close()
    finally:
        lock.release()
    return 0


async def _refresh(engine: Engine, hooks) -> list[str]:
    hooks.start()
    try:
        await engine.track_unfinished()
        await engine.poll_once()
        return await engine.check_outputs()
    finally:
        hooks.close()
        await engine.close()


def _summarize(out, engine: Engine, store: Store, lost: list[str]) -> None:
    counts = engine.tally.counts()
    recorded = store.recorded()
    by_status = Counter(v.status for v in recorded.values())
    parts = [f"{by_status[s]} {s.value}" for s in Status if by_status[s]]
    out.print(f"Refreshed {len(recorded)} recorded video(s): " + (", ".join(parts) or "none") + ".",
              highlight=False)
    if counts:
        out.print("This refresh: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + ".",
                  highlight=False)
    if lost:
        out.print(f"{len(lost)} output(s) lost: {', '.join(lost)}.", highlight=False)
    needs = [a for a, v in recorded.items() if v.status in (Status.FAILED, Status.CANCELLED, Status.UNKNOWN)
             or v.output_lost]
    if needs:
        out.print(f"{len(needs)} video(s) need a new render: run `reconciler plan` to see them, "
                  "then `reconciler apply`.", highlight=False)
    elif any(v.unfinished for v in recorded.values()):
        out.print("Some renders are still running: run `reconciler refresh` again later.", highlight=False)
