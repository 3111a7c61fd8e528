"""The one exponential backoff: how long to wait before the n-th try again.

Why a module of its own: four places wait longer after each failure (the poll
schedule of a render, a vendor call retried, a create the daemon tries again later,
a file watcher restarted), and each had its own copy of ``min(cap, base * 2**n)`` with
its own jitter. They differ only in numbers and in how much jitter they want, so
those are parameters here:

- ``jitter=FULL``: uniform between 0 and the delay ("full jitter", AWS architecture
  blog), for retries: a crowd of clients that failed together spreads apart most;
- ``jitter=0.1``: the delay +/- 10 %, for schedules that must keep their rhythm;
- ``jitter=0``: none (a single local watcher has no crowd to spread).

The randomness is injected (``rand``) so tests are deterministic and never sleep.

``pauses`` is the one retry loop: a vendor call retried (``providers/retry``), a
download fetched again (``apply/engine``), a webhook posted again (``apply/notify``)
each iterate over it and sleep the way their context sleeps (asyncio, a thread, an
injected fake).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

FULL = "full"


@dataclass(frozen=True)
class Exponential:
    """Delay before try ``n + 1`` (``n`` = 0 after the first failure):
    ``min(cap, base * factor**n)``, then jittered."""

    base: float
    cap: float
    factor: float = 2.0
    jitter: float | str = FULL  # FULL, or the +/- share of the delay (0: none)
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def ceiling(self, n: int) -> float:
        """The delay before jitter; never more than ``cap`` however large ``n`` grows."""
        try:
            return min(self.cap, self.base * self.factor ** max(0, n))
        except OverflowError:  # a render polled for days: 2.0 ** 1024 does not fit a float
            return self.cap

    def delay(self, n: int) -> float:
        return jittered(self.ceiling(n), self.jitter, self.rand)


def jittered(delay: float, jitter: float | str, rand: Callable[[], float] = random.random) -> float:
    """``delay`` with ``jitter`` applied (see the module docstring)."""
    if jitter == FULL:
        return delay * rand()
    if not jitter:
        return delay
    return delay * (1 + jitter * (2 * rand() - 1))


def pauses(attempts: int, delay: Callable[[int], float]) -> Iterator[float]:
    """The pause before each of ``attempts`` tries (at least one): 0 before the first,
    then ``delay(0)``, ``delay(1)``, ... each computed only when the loop comes back for
    another try. The caller tries once per pause and leaves the loop when done::

        for n, pause in enumerate(backoff.pauses(3, RETRY.delay)):
            if n:
                time.sleep(pause)
            if attempt():
                break
    """
    for n in range(max(1, attempts)):
        yield delay(n - 1) if n else 0.0
