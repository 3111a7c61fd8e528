"""When to ask a vendor about each unfinished render: the schedule and the tracker.

Why a module of its own: polling is what an apply spends most of its calls on, and
the vendors ask for restraint (docs/vendors.md: a few seconds first, at most ~30 s
between polls, never a tight loop). So the rule lives here, as data and pure
functions of a clock the caller passes in, where it can be tested without sleeping:
the first poll comes ``first`` seconds after submit, each next interval is
``factor`` times the last, capped at ``cap``, each with +/-``jitter`` so thousands of
renders submitted together spread apart instead of polling in lockstep.
``RECONCILER_TEST_FIRST_POLL_SECONDS`` (tests only, like ``RECONCILER_TEST_CRASH_AT``)
moves the first poll of a run's schedule: the test suite's simulator renders in well
under a second, and the vendors' 2 s before each first poll was most of its waiting.

A render unfinished past its deadline (``stall_at``, from the vendor's
``stall_after``; see ``overdue``) is *stalled*: from then on it is polled every
``stalled_interval`` seconds, and ``active()`` no longer counts it, so ``apply``
stops waiting for it instead of polling it for ever in silence.

The tracker is what the engine's single event loop polls from: one entry per
address (its current task), kept in a heap by due time, so ten thousand renders
cost one timer, not a thread or a task each.
"""

from __future__ import annotations

import heapq
import math
import os
import random
from dataclasses import dataclass, field
from typing import Callable

from reconciler.util import backoff

FIRST_POLL_ENV = "RECONCILER_TEST_FIRST_POLL_SECONDS"


@dataclass(frozen=True)
class PollSchedule:
    first: float = 2.0  # seconds from submit to the first poll
    factor: float = 2.0  # growth of the interval after each poll: 2, 6, 14, 30, 60, 90 ... s
    cap: float = 30.0  # the longest interval
    jitter: float = 0.1  # +/- this share of each interval
    stalled_interval: float = 600.0  # between polls of a stalled render (overdue.STALLED_POLL_INTERVAL)
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def interval(self, polls: int) -> float:
        """Seconds to wait after ``polls`` polls of a render (0 = since submit)."""
        return backoff.Exponential(self.first, self.cap, self.factor, self.jitter, self.rand).delay(polls)

    @classmethod
    def for_run(cls) -> PollSchedule:
        """The schedule of a run: the defaults, or TEST-ONLY the first poll that
        ``RECONCILER_TEST_FIRST_POLL_SECONDS`` sets (a positive number of seconds; any
        other value is ignored, as it is always unset outside the tests)."""
        try:
            first = float(os.environ.get(FIRST_POLL_ENV, ""))
        except ValueError:
            return cls()
        return cls(first=first) if math.isfinite(first) and first > 0 else cls()


@dataclass
class Tracked:
    address: str
    provider: str
    task_id: str
    polls: int = 0  # status calls made so far
    due: float = 0.0  # monotonic time of the next poll
    raw_state: str | None = None  # the vendor's last state word (report changes only)
    recorded: str | None = None  # the status the state DB holds for this task, if known
    download_failures: int = 0
    busy: bool = False  # being polled right now
    stall_at: float = float("inf")  # monotonic time after which the render counts as stalled
    stalled: bool = False  # polled past stall_at and still unfinished
    stall_reported: bool = False


class Tracker:
    """The renders being watched, keyed by address, ordered by due time."""

    def __init__(self, schedule: PollSchedule | None = None):
        self.schedule = schedule or PollSchedule.for_run()
        self._items: dict[str, Tracked] = {}
        self._heap: list[tuple[float, int, str, str]] = []  # (due, seq, address, task_id)
        self._seq = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, address: str) -> bool:
        return address in self._items

    def get(self, address: str) -> Tracked | None:
        return self._items.get(address)

    def add(self, address: str, provider: str, task_id: str, now: float, *, immediate: bool = False,
            recorded: str | None = None, stall_in: float | None = None) -> Tracked:
        """Watch ``task_id`` as ``address``'s render (replacing any older task);
        ``recorded``: the status the state DB holds for it; ``stall_in``: seconds until
        it counts as stalled if still unfinished (None: never)."""
        known = self._items.get(address)
        if known is not None and known.task_id == task_id:
            return known
        item = Tracked(address, provider, task_id, recorded=recorded)
        if stall_in is not None:
            item.stall_at = now + stall_in
        item.due = now if immediate else now + self.schedule.interval(0)
        self._items[address] = item
        self._push(item)
        return item

    def discard(self, address: str, task_id: str | None = None) -> None:
        """Stop watching ``address`` (only if its task is ``task_id``, when given)."""
        item = self._items.get(address)
        if item is not None and (task_id is None or item.task_id == task_id):
            del self._items[address]

    def reschedule(self, item: Tracked, now: float, *, delay: float | None = None) -> None:
        """Poll ``item`` again later: after the schedule's next interval, or ``delay``;
        past its ``stall_at`` it is marked stalled and polled every ``stalled_interval``."""
        item.busy = False
        if self._items.get(item.address) is not item:
            return  # superseded or removed while it was being polled
        if delay is None and now >= item.stall_at:
            item.stalled = True
            delay = backoff.jittered(self.schedule.stalled_interval, self.schedule.jitter, self.schedule.rand)
        item.due = now + (self.schedule.interval(item.polls) if delay is None else delay)
        self._push(item)

    def active(self) -> int:
        """How many tracked renders are not stalled (what ``apply`` waits for)."""
        return sum(1 for item in self._items.values() if not item.stalled)

    def release(self, item: Tracked) -> None:
        """``item`` is done (finished, failed, ...): forget it."""
        item.busy = False
        if self._items.get(item.address) is item:
            del self._items[item.address]

    def take_due(self, now: float, *, everything: bool = False) -> list[Tracked]:
        """The items due at ``now`` (or all idle ones), marked busy until rescheduled
        or released."""
        out: list[Tracked] = []
        while self._heap and (everything or self._heap[0][0] <= now):
            due, _, address, task_id = heapq.heappop(self._heap)
            item = self._items.get(address)
            if item is None or item.task_id != task_id or item.due != due or item.busy:
                continue  # a stale heap entry
            item.busy = True
            out.append(item)
        return out

    def next_due(self) -> float | None:
        """The due time of the earliest idle item, or None."""
        while self._heap:
            due, _, address, task_id = self._heap[0]
            item = self._items.get(address)
            if item is not None and item.task_id == task_id and not item.busy and item.due == due:
                return due
            heapq.heappop(self._heap)
        return None

    def _push(self, item: Tracked) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (item.due, self._seq, item.address, item.task_id))
