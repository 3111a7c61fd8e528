"""When to ask a vendor about each unfinished render: the schedule and the tracker.

Why a module of its own: polling is what an apply spends most of its calls on, and
the vendors ask for restraint (docs/vendors.md: never a tight loop). So the rule lives
here, as data and pure functions of a clock the caller passes in, where it can be
tested without sleeping.

Where the answer is likely (``Durations``): render times are learned per vendor and
per size of script (characters, segments: ``providers.base.script_size``) from the
state's own history (each finished attempt's submit and finish times, read once per
run) and from every render seen finished in this run. A least-squares fit gives each
render its expected duration; the spread of the past renders around their fits gives
the grid of polls: at the 30th, 55th, 75th and 90th percentile, and the longest seen
(``QUANTILES``: about 2.5 status calls per render when the fit holds). A render is not
polled while it is clearly early (before the first of them); one still unfinished past the
grid is polled again after a tenth of the time it has taken so far (at most ``cap``
seconds apart); one still queued at the vendor waits at least half its expected
duration more. With too little history (``MIN_SAMPLES``) the vendors' schedule is
used: the first poll ``first`` seconds after submit, each next interval ``factor``
times the last, capped at ``cap``. Every delay carries +/-``jitter`` so thousands of
renders submitted together spread apart instead of polling in lockstep, and a
``Retry-After`` the vendor sent is honoured (never polled sooner).
``RECONCILER_TEST_FIRST_POLL_SECONDS`` (tests only, like ``RECONCILER_TEST_CRASH_AT``)
moves the first poll of a run's schedule when there is no history: the test suite's
simulator renders in well under a second, and the vendors' 2 s before each first poll
was most of its waiting.

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
import json
import math
import os
import random
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from reconciler.providers.base import script_size
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


QUANTILES = (0.3, 0.55, 0.75, 0.9)  # of past renders' durations relative to their fits: the polls' grid (then the longest)
MIN_SAMPLES = 5  # finished renders of a vendor before its durations are trusted
MAX_SAMPLES = 256  # the newest renders of a vendor that are kept (memory and fit cost stay bounded)
LEARNED_JITTER = 0.02  # +/- share on the learned grid: sizes spread renders apart already
CALIBRATION_STEP = 0.1  # Durations.calibrate: how fast the grid follows what first polls find
LATE_SHARE = 0.1  # a render later than any seen is polled again after this share of the time it has taken
LINEAR_SAMPLES = 12  # from this many on, the fit uses the script's size; before, one median per vendor


@dataclass(frozen=True)
class Estimate:
    """A render's expected duration (seconds from submit) and the grid of its polls."""

    expected: float
    grid: tuple[float, ...]  # increasing seconds from submit


class Durations:
    """Render durations per vendor, learned from finished renders of known script size:
    ``seconds ~ a + b * characters + c * segments`` by least squares (one median per vendor
    while it has fewer than ``LINEAR_SAMPLES``), and how far past renders fell from it."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[int, int, float]]] = {}
        self._fits: dict[str, tuple[tuple[float, float, float], tuple[float, ...]] | None] = {}
        self._added: dict[str, int] = {}  # samples added since the vendor's last fit
        self._scale: dict[str, float] = {}  # calibrate()'s correction of the vendor's grid

    def add(self, provider: str, chars: int, segments: int, seconds: float) -> None:
        """One finished render: ``seconds`` from submit to finish."""
        if not (math.isfinite(seconds) and seconds > 0):
            return
        samples = self._samples.get(provider)
        if samples is None:
            samples = self._samples[provider] = deque(maxlen=MAX_SAMPLES)
        samples.append((max(0, chars), max(0, segments), seconds))
        self._added[provider] = self._added.get(provider, 0) + 1

    def learn(self, rows: Iterable[tuple[str, int, int, float]]) -> None:
        """Past renders, oldest first: (vendor, characters, segments, seconds)."""
        for provider, chars, segments, seconds in rows:
            self.add(provider, chars, segments, seconds)

    def calibrate(self, provider: str, finished: bool) -> None:
        """The answer to a render's first poll (placed at the grid's first quantile):
        ``finished`` moves the vendor's grid earlier, unfinished later, by steps that
        balance when ``QUANTILES[0]`` of first polls find their render finished (a
        Robbins-Monro quantile tracker). The history's finish times may be late (a vendor
        that gives none: the poll that saw it), and no such bias survives this."""
        target = QUANTILES[0]
        step = math.exp(-CALIBRATION_STEP * (1 - target)) if finished else math.exp(CALIBRATION_STEP * target)
        self._scale[provider] = min(4.0, max(0.25, self._scale.get(provider, 1.0) * step))

    def learn_history(self, rows: Iterable[dict]) -> None:
        """The state's finished renders (``Store.render_history``: provider, request JSON,
        submitted_at, finished_at), oldest first; a row that does not read is skipped."""
        for row in rows:
            try:
                seconds = (datetime.fromisoformat(row["finished_at"])
                           - datetime.fromisoformat(row["submitted_at"])).total_seconds()
                chars, segments = script_size(json.loads(row["request"]))
            except (TypeError, ValueError, KeyError):
                continue
            self.add(row["provider"], chars, segments, seconds)

    def samples(self, provider: str) -> int:
        return len(self._samples.get(provider, ()))

    def estimate(self, provider: str, chars: int, segments: int) -> Estimate | None:
        """The expected duration of a render of this size, or None while the vendor has
        fewer than ``MIN_SAMPLES`` finished renders."""
        fit = self._fit(provider)
        if fit is None:
            return None
        (a, b, c), ratios = fit
        expected = max(a + b * chars + c * segments, 1e-3) * self._scale.get(provider, 1.0)
        return Estimate(expected, tuple(expected * r for r in ratios))

    def _fit(self, provider: str):
        samples = self._samples.get(provider)
        if samples is None or len(samples) < MIN_SAMPLES:
            return None
        added = self._added.get(provider, 0)
        if provider in self._fits and added * 10 < len(samples):  # refit after 10 % new samples
            return self._fits[provider]
        self._added[provider] = 0
        coef = _least_squares(samples) if len(samples) >= LINEAR_SAMPLES else None
        if coef is None:
            coef = (statistics.median(d for _, _, d in samples), 0.0, 0.0)
        a, b, c = coef
        ratios = sorted(d / max(a + b * ch + c * sg, 1e-3) for ch, sg, d in samples)
        grid = [ratios[min(len(ratios) - 1, int(q * len(ratios)))] for q in QUANTILES] + [ratios[-1] * 1.02]
        for i in range(1, len(grid)):
            grid[i] = max(grid[i], grid[i - 1])
        self._fits[provider] = (coef, tuple(grid))
        return self._fits[provider]


def _least_squares(samples: Iterable[tuple[int, int, float]]) -> tuple[float, float, float] | None:
    """(a, b, c) of ``d ~ a + b * chars + c * segments`` (normal equations, a touch of
    ridge so equal sizes or segments that follow characters stay solvable); None when a
    fit would predict no time at all for a size seen."""
    rows = [(1.0, ch / 100.0, float(sg), d) for ch, sg, d in samples]
    m = [[sum(r[i] * r[j] for r in rows) for j in range(3)] for i in range(3)]
    v = [sum(r[i] * r[3] for r in rows) for i in range(3)]
    for i in (1, 2):
        m[i][i] += 1e-3 * len(rows)
    solved = _solve3(m, v)
    if solved is None:
        return None
    a, b, c = solved[0], solved[1] / 100.0, solved[2]
    if any(a + b * ch + c * sg <= 0 for ch, sg, _ in samples):
        return None
    return a, b, c


def _solve3(m: list[list[float]], v: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting of a 3x3 system."""
    a = [row[:] + [rhs] for row, rhs in zip(m, v)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, 3):
            f = a[r][col] / a[col][col]
            for k in range(col, 4):
                a[r][k] -= f * a[col][k]
    x = [0.0, 0.0, 0.0]
    for r in (2, 1, 0):
        x[r] = (a[r][3] - sum(a[r][k] * x[k] for k in range(r + 1, 3))) / a[r][r]
    return x


@dataclass(slots=True)
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
    chars: int = 0  # the script's size (providers.base.script_size), for the learned durations
    segments: int = 0
    submitted: float | None = None  # monotonic time of the submit (None: not known)
    queued: bool = False  # the vendor's last answer: still waiting to start
    unfinished_at: float | None = None  # seconds from submit to its last poll that found it unfinished
    on_grid: bool = False  # its first poll was placed on a learned grid


class Tracker:
    """The renders being watched, keyed by address, ordered by due time."""

    def __init__(self, schedule: PollSchedule | None = None, durations: Durations | None = None):
        self.schedule = schedule or PollSchedule.for_run()
        self.durations = durations if durations is not None else Durations()
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
            recorded: str | None = None, stall_in: float | None = None, size: tuple[int, int] = (0, 0),
            elapsed: float | None = None) -> Tracked:
        """Watch ``task_id`` as ``address``'s render (replacing any older task);
        ``recorded``: the status the state DB holds for it; ``stall_in``: seconds until
        it counts as stalled if still unfinished (None: never); ``size``: its script's
        (characters, segments); ``elapsed``: seconds since its submit (None: not known)."""
        known = self._items.get(address)
        if known is not None and known.task_id == task_id:
            return known
        item = Tracked(address, provider, task_id, recorded=recorded, chars=size[0], segments=size[1],
                       submitted=None if elapsed is None else now - elapsed)
        if stall_in is not None:
            item.stall_at = now + stall_in
        item.due = now if immediate else now + self.next_delay(item, now)
        item.on_grid = not immediate and item.submitted is not None and self.durations.estimate(
            provider, item.chars, item.segments) is not None
        self._items[address] = item
        self._push(item)
        return item

    def discard(self, address: str, task_id: str | None = None) -> None:
        """Stop watching ``address`` (only if its task is ``task_id``, when given)."""
        item = self._items.get(address)
        if item is not None and (task_id is None or item.task_id == task_id):
            del self._items[address]

    def reschedule(self, item: Tracked, now: float, *, delay: float | None = None,
                   retry_after: float | None = None) -> None:
        """Poll ``item`` again later: when the schedule says (``next_delay``), or after
        ``delay``, never sooner than the vendor's ``retry_after``; past its ``stall_at`` it
        is marked stalled and polled every ``stalled_interval``."""
        item.busy = False
        if self._items.get(item.address) is not item:
            return  # superseded or removed while it was being polled
        if delay is None and now >= item.stall_at:
            item.stalled = True
            delay = backoff.jittered(self.schedule.stalled_interval, self.schedule.jitter, self.schedule.rand)
        wait = self.next_delay(item, now) if delay is None else delay
        if retry_after is not None and math.isfinite(retry_after):
            wait = max(wait, retry_after)
        item.due = now + wait
        self._push(item)

    def next_delay(self, item: Tracked, now: float) -> float:
        """Seconds until ``item``'s next poll (see the module docstring): on the grid of its
        learned duration, or the vendors' schedule while its vendor has too little history."""
        schedule = self.schedule
        estimate = None if item.submitted is None else self.durations.estimate(item.provider, item.chars, item.segments)
        if estimate is None:
            return schedule.interval(item.polls)
        elapsed = max(0.0, now - item.submitted)
        gap = min(schedule.first, 0.1 * estimate.expected)  # never two polls closer than this
        target = next((t for t in estimate.grid if t >= elapsed + gap), None)
        if target is None:  # later than every render seen: back off with the time it has taken
            wait = min(schedule.cap, max(gap, LATE_SHARE * elapsed))
        else:
            wait = target - elapsed
        if item.queued:  # not even started at the vendor: clearly early
            wait = max(wait, 0.5 * estimate.expected)
        return backoff.jittered(wait, min(schedule.jitter, LEARNED_JITTER), schedule.rand)

    def finished(self, item: Tracked, now: float) -> float:
        """``item`` was seen finished at ``now``: its duration is learned, as the middle of
        the time between its last poll that found it unfinished and this one (when its
        first poll found it finished: that poll's time, an upper bound; where that first
        poll goes is ``Durations.calibrate``'s job). Returns how many seconds before
        ``now`` it ended, by that estimate."""
        if item.submitted is None:
            return 0.0
        self._calibrate(item, True)
        elapsed = now - item.submitted
        took = elapsed if item.unfinished_at is None else (elapsed + item.unfinished_at) / 2
        self.durations.add(item.provider, item.chars, item.segments, took)
        return elapsed - took

    def unfinished(self, item: Tracked, now: float) -> None:
        """``item`` was seen unfinished at ``now``."""
        if item.submitted is not None:
            self._calibrate(item, False)
            item.unfinished_at = now - item.submitted

    def _calibrate(self, item: Tracked, finished: bool) -> None:
        if item.polls == 1 and item.on_grid:  # the answer to its first poll, placed on a learned grid
            self.durations.calibrate(item.provider, finished)

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
