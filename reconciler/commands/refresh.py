"""`reconciler refresh`: bring the state up to date with the vendors and the disk.

It takes the state lock, turns intents left pending by a dead writer into
``unknown``, asks the vendor once about every unfinished render, downloads the
outputs of finished ones, checks every published output file (missing, sha256 changed
or not a video: downloaded again while the vendor can give it, else lost, so the next
plan proposes to render it again), and writes state and manifest. It never starts a
render: it only finds out.

It says what needs a person: renders stalled past ``stall_after``, finished Unisound
outputs not downloaded a day after they finished (their link expires: state/overdue.py), and
creates whose outcome is unknown (with the command that renders them again). It exits
1 when it could not find out: a vendor that could not be reached or refused the
credentials for an unfinished render, a render created with another vendor account
(docs/team.md: listed, never polled here), or a local write that failed.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from reconciler.apply.engine import Engine, ProviderSet, to_collect
from reconciler.apply.events import Kind, make_hooks
from reconciler.commands.apply import check_credentials, report_takeover
from reconciler.model import Status
from reconciler.state import outputs_location
from reconciler.state import store as state_store
from reconciler.state.store import Store

_UNANSWERED = {Kind.POLL_ERROR, Kind.ERROR}  # the vendor was not reached, or refused the call


class _LastEvent:
    """The command's hooks, plus the last event seen per address (what refresh found out)."""

    def __init__(self, inner):
        self.inner = inner
        self.last: dict[str, object] = {}
        self.warnings: dict[str, str] = {}

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        self.inner.close()

    def event(self, event) -> None:
        if event.kind is Kind.WARNING:
            self.warnings[event.address] = event.detail
        else:
            self.last[event.address] = event
        self.inner.event(event)


def run(project) -> int:
    from rich.console import Console

    config = project.config()
    out = Console()
    lock = state_store.writer_lock(config).acquire("refresh")
    try:
        report_takeover(lock)
        store = state_store.open_store(config)
        try:
            outputs_location.settle(config, store)
            check_credentials(config, {v.provider for v in store.recorded().values() if to_collect(v)})
            hooks = _LastEvent(make_hooks())
            engine = Engine(config, store, ProviderSet(config), hooks, holder="refresh")
            lost = asyncio.run(_refresh(engine, hooks))
            return _summarize(out, engine, store, hooks, lost)
        finally:
            store.close()
    finally:
        lock.release()


async def _refresh(engine: Engine, hooks) -> list[str]:
    hooks.start()
    try:
        await engine.track_unfinished()
        await engine.poll_once()
        return await engine.check_outputs()
    finally:
        hooks.close()
        await engine.close()


def _summarize(out, engine: Engine, store: Store, hooks: _LastEvent, lost: list[str]) -> int:
    """Print what refresh found; return the exit code."""
    from rich.text import Text

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
    unanswered = {a: e.detail for a, e in hooks.last.items() if e.kind in _UNANSWERED}
    _section(out, "Not refreshed (a vendor call failed; still recorded as before):", unanswered)
    others = {a: e.detail for a, e in hooks.last.items() if e.kind is Kind.OTHER_ACCOUNT}
    _section(out, "Owned by another account (not refreshed here; left as recorded):", others)
    stalled = {a: e.detail for a, e in hooks.last.items() if e.kind is Kind.STALLED}
    _section(out, "Stalled (not rendered again unless you ask):", stalled)
    _section(out, "Warning:", hooks.warnings)
    unknown = sorted(a for a, v in recorded.items() if v.status is Status.UNKNOWN)
    if unknown:
        out.print(Text(f"{len(unknown)} create(s) have an unknown outcome (sent, answer lost: maybe paid for); "
                       "they are not sent again. A task found in the vendor's console is adopted, with no second "
                       "payment, by `reconciler state import ADDR TASK_ID`. To render one again on purpose:",
                       style="yellow"), soft_wrap=True)
        for address in unknown:
            out.print(f"  reconciler apply --replace {address}", highlight=False, soft_wrap=True)
    needs = [a for a, v in recorded.items() if v.status in (Status.FAILED, Status.CANCELLED) or v.output_lost]
    if needs:
        out.print(f"{len(needs)} video(s) need a new render: run `reconciler plan` to see them, "
                  "then `reconciler apply`.", highlight=False)
    elif any(v.unfinished for v in recorded.values()) and not unanswered and not others:
        out.print("Some renders are still running: run `reconciler refresh` again later.", highlight=False)
    if engine.halted:
        out.print(Text(f"Stopped: {engine.halted}", style="bold red"), soft_wrap=True)
    return 1 if unanswered or others or engine.halted else 0


def _section(out, title: str, items: dict[str, str]) -> None:
    if not items:
        return
    from rich.text import Text

    out.print(Text(title, style="bold yellow"), soft_wrap=True)
    for address, detail in sorted(items.items()):
        out.print(Text(f"  {address}: {detail}"), soft_wrap=True)
