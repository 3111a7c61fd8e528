"""What one reconcile cycle of the daemon tells its log: spec problems and warnings,
held-back changes, the plan.

Why apart from ``watch``: the daemon looks again after every save and on a timer, so
the same facts come up cycle after cycle; a log that repeats them is a log nobody
reads. This module says each fact once: a broken file's diagnostics when they
change (and "valid again" when it is fixed), a file's warnings (values outside the
vendor lists) once per content of the file, a held-back replace once per (address,
fingerprint, status), and a plan only when it changes something.
"""

from __future__ import annotations

from reconciler.model import Action, Plan
from reconciler.planning import planner
from reconciler.specs import vendor_lists
from reconciler.watch.desired import Resolved
from reconciler.watch.eventlog import EventLog
from reconciler.watch.policy import Skip


class CycleReport:
    def __init__(self, log: EventLog):
        self.log = log
        self._reported: dict[str, tuple] = {}  # spec file ("" = no file) -> diagnostics last logged
        self._warned: dict[str, str] = {}  # clean spec file -> the content key its warnings were logged for

    def warnings(self, config, load) -> None:
        """Values outside the vendor lists (``specs.vendor_lists``), the warnings ``plan``
        and ``validate`` print: each file's logged once per content of the file (again
        only after it changed), never every cycle. Only changed files are checked."""
        warned = {}
        for rel in load.videos_by_file:
            key = warned[rel] = load.keys_by_file.get(rel, "")
            if key and self._warned.get(rel) == key:
                continue
            for w in vendor_lists.check_file(config, load, rel):
                self.log.warning("spec_warning", str(w), file=w.path, line=w.line)
        self._warned = warned

    def specs(self, resolved: Resolved) -> None:
        """Each broken file's diagnostics (``file:line``) when new; "valid again" when fixed."""
        groups = dict(resolved.broken)
        if resolved.general:
            groups[""] = list(resolved.general)
        for path in sorted(set(self._reported) - set(groups)):
            if path:
                self.log.info("spec_fixed", f"{path} is valid again", file=path)
            del self._reported[path]
        for path, diagnostics in sorted(groups.items()):
            key = tuple(diagnostics)
            if self._reported.get(path) == key:
                continue
            self._reported[path] = key
            for d in diagnostics:
                self.log.error("spec_error", str(d), file=d.path, line=d.line)
            if path:
                kept = ("keeps its last good videos" if path in resolved.stale
                        else "has no last good version: its recorded videos are kept as they are")
                self.log.warning("spec_error", f"{path} {kept}; nothing of it is cancelled or deleted "
                                               "until it is valid again", file=path)

    def skip(self, skip: Skip) -> None:
        """A change held back by ``watch_policy``: once per address, fingerprint and status."""
        if skip.quiet:
            return
        c = skip.change
        status = c.recorded.status.value if c.recorded else None
        key = ("skip", c.address, c.desired.fingerprint if c.desired else "", status)
        self.log.once(key, "skip", f"not rendered again: {skip.why}", level="warning", address=c.address)

    def outcome_unknown(self, plan: Plan) -> None:
        """Creates whose outcome is unknown: never re-sent by the daemon (docs/specs.md);
        said once per attempt, with the command a person runs to render it again."""
        for c in plan.changes:
            if planner.outcome_unknown(c):
                key = ("unknown", c.address, c.recorded.attempt)
                self.log.once(key, "unknown", f"not sent again: {c.reason}", level="warning", address=c.address,
                              command=planner.replace_command(c.address))

    def plan(self, plan: Plan, **timings: int) -> None:
        """A summary line (with how long loading and planning took), then one line per
        change the daemon is about to make."""
        counts = {a: n for a, n in plan.summary.items() if n and a != "noop"}
        self.log.info("plan", ", ".join(f"{n} to {a}" for a, n in counts.items()), **counts, **timings)
        for c in plan.changes:
            if c.action is not Action.NOOP:
                self.log.info("plan", f"{c.action.value}: {c.reason}", address=c.address,
                              action=c.action.value, file=c.file)
