"""What the daemon leaves out of a plan that ``apply`` would carry out.

Why: ``apply`` has a person who read the plan and typed ``yes``; ``watch`` runs every
few seconds with nobody watching, so a few of the plan's replaces would turn into
loops that pay for a render every cycle. The plan stays pure and the same for both;
this module narrows it, for the daemon only, by turning such changes into ``noop``:

- **held** videos (their spec file has been broken since the daemon started, see
  ``desired_cache``): no change of any kind until the file is valid again;
- a **replace whose only cause is the last attempt** (it ``failed`` or was
  ``cancelled``) while the fingerprint is the one that attempt was made for.
  Rendering the same request again would most likely fail the same way, so the
  daemon logs it once per (address, fingerprint) and waits for the user: an edit
  that changes the fingerprint, or ``reconciler apply`` (which shows the plan and
  asks). A create whose outcome is ``unknown`` is already a noop in the plan
  (docs/specs.md: only ``--replace`` sends it again, and the daemon has none); it is
  listed here too, so that no plan however made can have the daemon pay twice;
- a create or replace whose last try failed **transiently** (the create never left
  this machine, the vendor was unreachable, credentials missing) until its backoff
  (exponential, per address, jittered) comes due; then it is tried again;
- a replace for a **lost output** (the one-shot download failed, ...) once per
  (address, fingerprint): a second loss in a row is left to the user, or every
  cycle would pay for a render whose output never arrives;
- a **delete** only once the video has been missing from the specs for
  ``Settle.delay`` seconds: an editor that saves by removing and re-creating a file,
  a video moved between two files saved one after the other, or a checkout halfway
  through, all look like a delete for a moment, and a delete cancels a paid render.

Everything else (creates, replaces for a changed fingerprint, a first re-render of
a lost output, updates) goes ahead as planned. ``Policy`` is the memory these rules
need across cycles (backoffs, settling deletes, lost outputs rendered again).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable

from reconciler.model import Action, Change, Plan, Status
from reconciler.util import backoff

ASK_BEFORE_RETRY = frozenset({Status.FAILED, Status.CANCELLED, Status.UNKNOWN})


@dataclass(frozen=True)
class Skip:
    change: Change  # the change as planned
    why: str  # a human sentence for the log
    quiet: bool = False  # already explained elsewhere (held file, backoff): do not log per video


class Backoff:
    """Per-address retry times for transient failures: base * 2**n, capped, jittered."""

    def __init__(self, base: float = 5.0, cap: float = 300.0, rand: Callable[[], float] = random.random):
        self.base, self.cap, self.rand = base, cap, rand
        self._entries: dict[str, tuple[str, int, float]] = {}  # address -> (fingerprint, failures, due)

    def failed(self, address: str, fingerprint: str, now: float) -> float:
        """A transient failure of ``address`` at ``fingerprint``; returns the retry time."""
        old = self._entries.get(address)
        n = old[1] + 1 if old and old[0] == fingerprint else 1
        delay = backoff.Exponential(self.base, self.cap, jitter=0.25, rand=self.rand).delay(n - 1)
        self._entries[address] = (fingerprint, n, now + delay)
        return now + delay

    def clear(self, address: str) -> None:
        self._entries.pop(address, None)

    def entry(self, address: str, fingerprint: str) -> tuple[int, float] | None:
        """(failures, due) of a transient failure at this fingerprint, or None."""
        e = self._entries.get(address)
        return (e[1], e[2]) if e and e[0] == fingerprint else None

    def next_due(self, now: float) -> float | None:
        """The earliest retry time still to come (a past one was already retried)."""
        return min((e[2] for e in self._entries.values() if e[2] > now), default=None)


class Settle:
    """When each address was first seen planned for delete; ready after ``delay`` s."""

    def __init__(self, delay: float = 1.0):
        self.delay = delay
        self.since: dict[str, float] = {}

    def due(self, address: str, now: float) -> float:
        return self.since.setdefault(address, now) + self.delay

    def keep_only(self, addresses: set[str]) -> None:
        """Forget addresses no longer planned for delete (they came back)."""
        self.since = {a: t for a, t in self.since.items() if a in addresses}

    def next_due(self, now: float) -> float | None:
        """The earliest delete still to become ready."""
        return min((t + self.delay for t in self.since.values() if t + self.delay > now), default=None)


class Policy:
    """The daemon's memory across cycles: transient backoffs, deletes settling, and
    which lost outputs it already rendered again once."""

    def __init__(self, backoff: Backoff | None = None, settle: Settle | None = None):
        self.backoff = backoff or Backoff()
        self.settle = settle or Settle()
        self.lost_rerendered: set[tuple[str, str]] = set()  # (address, fingerprint)

    def next_due(self, now: float) -> float | None:
        dues = [t for t in (self.backoff.next_due(now), self.settle.next_due(now)) if t is not None]
        return min(dues, default=None)

    def restrain(self, plan: Plan, held: frozenset[str], now: float) -> tuple[Plan, list[Skip]]:
        """``plan`` with the changes the daemon must not make (yet) turned into noops."""
        changes: list[Change] = []
        skips: list[Skip] = []
        self.settle.keep_only({c.address for c in plan.changes if c.action is Action.DELETE})
        for change in plan.changes:
            skip = self._skip(change, held, now)
            if skip is None:
                changes.append(change)
            else:
                skips.append(skip)
                changes.append(replace(change, action=Action.NOOP, reason=f"left alone by watch: {skip.why}",
                                       details=()))
        return Plan(tuple(changes)), skips

    def _skip(self, change: Change, held: frozenset[str], now: float) -> Skip | None:
        if change.action is Action.NOOP:
            return None
        if change.address in held:
            return Skip(change, "its spec file has errors; kept as recorded until it is fixed", quiet=True)
        if change.action is Action.DELETE:
            due = self.settle.due(change.address, now)
            return None if now >= due else Skip(change, f"deleted in {due - now:.1f}s if still gone", quiet=True)
        d, r = change.desired, change.recorded
        if change.action not in (Action.CREATE, Action.REPLACE) or d is None:
            return None
        transient = self.backoff.entry(change.address, d.fingerprint)
        if transient is not None:
            failures, due = transient
            if now >= due:
                return None
            return Skip(change, f"transient failure #{failures}; retried in {due - now:.0f}s", quiet=True)
        if r is None or d.fingerprint != r.fingerprint:
            return None
        if r.status in ASK_BEFORE_RETRY:
            return Skip(change, _why_not_again(r))
        if r.output_lost:
            key = (change.address, d.fingerprint)
            if key not in self.lost_rerendered:
                self.lost_rerendered.add(key)
                return None  # rendered again once; if that output is lost too, a person decides
            return Skip(change, f"its output was lost again ({r.error or 'no reason given'}); watch "
                                f"renders a lost output once: {ASK}")
        return None


ASK = "change the spec, or run `reconciler apply` (with watch stopped) to render it again"


def _why_not_again(r) -> str:
    if r.status is Status.UNKNOWN:
        return ("its last create got no answer (it may be rendering, and paid for); watch never sends it again: "
                f"to render it again on purpose, run `reconciler apply --replace {r.address}` (with watch stopped)")
    what = {Status.FAILED: "its last render failed", Status.CANCELLED: "its last render was cancelled"}[r.status]
    detail = f" ({r.error})" if r.error else ""
    return f"{what}{detail}; watch does not render the same request again: {ASK}"
