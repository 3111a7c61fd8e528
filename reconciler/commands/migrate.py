"""`reconciler state migrate --to URL`: copy a whole state to another backend (docs/team.md).

Why: a team moving from each machine's SQLite file to one shared PostgreSQL state (or
back) must keep every video, attempt and the history of paid calls, or the next apply
would pay again for renders it already has. So:

- both states are locked for the copy (nothing writes to either meanwhile);
- a target that already holds a state is refused (a copy never merges nor overwrites);
- the copy is all or nothing (``StateBackend.receive``: a SQLite file built under a
  temporary name and renamed; one PostgreSQL transaction after a marker row), and it is
  read back and compared row by row with the source before it becomes the target's
  state. A kill half-way leaves a target every command refuses, naming this command
  (never an empty state that a plan would render again, paid), and running this
  command again completes the copy;
- the source is only read: it is left exactly as it was, and stays the project's state
  until a person points ``state`` (or ``RECONCILER_STATE_URL``) at the target.
"""

from __future__ import annotations

from reconciler.errors import StateError
from reconciler.state import store as state_store


def run(project, to: str) -> int:
    from rich.console import Console

    config = project.config()
    source = state_store.backend(config)
    target = state_store.target_backend(config, to)
    where_from, where_to = state_store.describe(config), target.describe()
    if source == target or source.describe() == target.describe():
        raise StateError(f"the target {where_to} is the project's state itself")
    out = Console()
    source_lock = source.lock().acquire("state migrate")
    try:
        target_lock = target.lock().acquire("state migrate")
        try:
            copied = _copy(source, target, where_from, where_to)
        finally:
            target_lock.release()
    finally:
        source_lock.release()
    out.print(f"Copied the state {where_from} to {where_to}: {copied['videos']} video(s), "
              f"{copied['attempts']} attempt(s), generation {copied['generation']}; both compared equal.")
    out.print(f"The source is unchanged. To use the copy, set `state: {_shown(to)}` in reconciler.yaml "
              f"(or RECONCILER_STATE_URL).")
    return 0


def _copy(source, target, where_from: str, where_to: str) -> dict:
    reader = source.open(readonly=True)
    try:
        data = reader.dump()
        if reader.schema_version() == 0:
            raise StateError("the project has no state yet: nothing to migrate")
    finally:
        reader.close()

    def check(copied: dict) -> None:
        if _normal(copied) != _normal(data):
            raise StateError(f"the copy in {where_to} differs from the source after writing, so it was not kept; "
                             f"the source and the target are unchanged")

    target.receive(data, where_from, check)
    generation = next((int(r["value"]) for r in data["meta"] if r["key"] == "generation"), 0)
    return {"videos": len(data["videos"]), "attempts": len(data["attempts"]), "generation": generation}


def _normal(data: dict) -> dict:
    """Rows comparable across backends (column order and integer widths aside)."""
    return {table: [dict(sorted(row.items())) for row in rows] for table, rows in data.items()}


def _shown(to: str) -> str:
    from reconciler.state.store import _redacted

    return _redacted(to) if "://" in to else to
