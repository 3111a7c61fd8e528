"""What every doctor check ends as: a ``Check`` (ok, warning or error, what was found, the
next step). A module of its own, importing nothing of doctor, so ``checks`` (which runs
them all) and the modules it calls (``vendors``, ``bucket``) share it without importing
each other back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warning | error
    detail: str
    fix: str = ""  # the next step (may span lines: config to paste)

    def as_json(self) -> dict:
        return asdict(self)
