"""`reconciler gallery [--out DIR]`: the static review page of every video (docs/commands.md).

Reads the state read-only (nothing is created or changed there, no lock is taken: a
running ``watch`` may keep working), makes no network call, and writes only
``DIR/index.html`` and ``DIR/posters/`` (posters cut here only for outputs published
without one). Its imports (Jinja, the gallery package, PyAV) happen here only, so no
other command pays for them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from reconciler.errors import ReconcilerError

DEFAULT_OUT = "site"


def run(project, out: Path | None) -> int:
    from reconciler.gallery import cards, costs, page, posters
    from reconciler.state import outputs_location
    from reconciler.state import store as state_store
    from reconciler.util import clock

    config = project.config()
    out_dir = config.root / (out if out is not None else Path(DEFAULT_OUT))
    if out_dir.exists() and not out_dir.is_dir():
        raise ReconcilerError(f"{config.rel(out_dir)}: is a file, not a folder; choose another --out")
    store = state_store.open_store(config, readonly=True)
    try:
        recorded, attempts = store.recorded(), store.attempts()
    finally:
        store.close()
    now = clock.utc_now()
    made = cards.build_cards(config, recorded, attempts, out_dir.resolve(), now)
    spent = costs.spent(config, recorded, attempts)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        local = {c.address: (c.sha256, c.local_file) for c in made if c.src_kind == "local" and c.sha256}
        made = cards.with_posters(made, posters.local_posters(out_dir, local))
        html = page.render(made, title=config.root.resolve().name or "reconciler", generated=cards.when(
            now.isoformat(timespec="seconds")), state_name=state_store.describe(config),
            outputs_name=outputs_location.configured(config) + "/", spent=spent)
        index = page.write(out_dir, html)
    except OSError as exc:
        raise ReconcilerError(f"{config.rel(out_dir)}: cannot write the page ({exc.strerror or exc}); "
                              "check the folder's permissions and free space, or choose another --out") from None
    print(_summary(config.rel(index), made, sum(1 for c in made if c.poster), spent.total if spent else ""))
    print(f"Open {index.resolve().as_uri()}")
    return 0


def _summary(where: str, made: list, posters_made: int, spent: str) -> str:
    from reconciler.gallery.cards import ATTENTION

    counts = Counter(c.status for c in made)
    look = [f"{counts[s]} {s}" for s in ATTENTION if counts[s]]
    text = f"Wrote {where}: {len(made)} video{'' if len(made) == 1 else 's'}"
    if look:
        n = sum(counts[s] for s in ATTENTION)
        text += f", {n} need{'s' if n == 1 else ''} a look ({', '.join(look)})"
    text += f"; {posters_made} poster{'' if posters_made == 1 else 's'}"
    return text + (f"; spent so far {spent}." if spent else ".")
