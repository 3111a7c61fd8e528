"""Bounded retries of ``TransientError`` with exponential backoff and full jitter.

Why our own 30 lines instead of stamina/tenacity: the rule that matters here is not
*how* to retry but *what* may be retried, and that is decided by ``errors_map`` (a
paid create only ever raises ``TransientError`` when retrying cannot duplicate it).
This helper retries exactly ``TransientError`` and nothing else, and takes its clock
and randomness from a ``RetryPolicy`` so tests run without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TypeVar

from reconciler.errors import TransientError
from reconciler.util import backoff

log = logging.getLogger("reconciler.providers")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; before try n+1 sleep ``uniform(0, min(cap, base * 2**n))``,
    or the vendor's ``Retry-After`` when longer, up to ``wait_at_most``: a longer one is the
    caller's to wait (a poll is rescheduled after it), not a call's to hold."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 8.0
    wait_at_most: float = 8.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry: int) -> float:
        """Full jitter (AWS architecture blog): spreads a crowd of clients apart."""
        return backoff.Exponential(self.base, self.cap, jitter=backoff.FULL, rand=self.rand).delay(retry)


DEFAULT = RetryPolicy()


async def retrying(fn: Callable[[], Awaitable[T]], policy: RetryPolicy, what: str) -> T:
    """Await ``fn()``; on ``TransientError`` try again up to ``policy.attempts`` times.
    The last ``TransientError`` is re-raised with the number of attempts added. A retry
    never comes sooner than the vendor's ``Retry-After``; one longer than ``policy.wait_at_most``
    is raised at once, for the caller to wait (a poll is rescheduled after it)."""
    attempts = max(1, policy.attempts)
    last: TransientError | None = None
    for n, pause in enumerate(backoff.pauses(attempts, policy.delay)):
        if last is not None:
            pause = max(pause, last.retry_after or 0.0)  # never sooner than the vendor's Retry-After
            log.debug("%s: transient failure, retry %d/%d in %.2fs: %s", what, n, attempts - 1, pause, last)
            await policy.sleep(pause)
        try:
            return await fn()
        except TransientError as exc:
            if n + 1 >= attempts:
                if attempts > 1:
                    exc.args = (f"{exc.args[0]} (gave up after {attempts} attempts)",)
                raise
            if exc.retry_after is not None and exc.retry_after > policy.wait_at_most:
                raise  # a longer wait than a retry here should hold a call: the caller's (a poll: rescheduled)
            last = exc
    raise AssertionError("unreachable: the last try returns or raises")
