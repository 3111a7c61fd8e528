"""The one backoff: exponential with a cap, three kinds of jitter, deterministic with an
injected random source, and the four users getting the delays they had before."""

import pytest

from reconciler.apply.schedule import PollSchedule
from reconciler.providers.retry import RetryPolicy
from reconciler.util import backoff
from reconciler.watch import files
from reconciler.watch.policy import Backoff as WatchBackoff


def test_grows_by_factor_up_to_the_cap():
    b = backoff.Exponential(base=2.0, cap=30.0, jitter=0)
    assert [b.delay(n) for n in range(7)] == [2, 4, 8, 16, 30, 30, 30]
    assert backoff.Exponential(base=1.0, cap=100.0, factor=3.0, jitter=0).delay(3) == 27


def test_a_render_polled_for_days_still_waits_the_cap():
    # 2.0 ** 1024 overflows a float: the thousandth poll must not crash the engine
    assert backoff.Exponential(base=2.0, cap=30.0, jitter=0).delay(5000) == 30
    assert PollSchedule(rand=lambda: 0.5).interval(2000) == 30


def test_full_jitter_spans_zero_to_the_delay():
    for r, expected in ((0.0, 0.0), (0.25, 2.0), (1.0, 8.0)):
        assert backoff.Exponential(base=1.0, cap=8.0, rand=lambda r=r: r).delay(3) == pytest.approx(expected)


def test_share_jitter_keeps_the_rhythm():
    low = backoff.Exponential(base=10.0, cap=10.0, jitter=0.1, rand=lambda: 0.0).delay(0)
    high = backoff.Exponential(base=10.0, cap=10.0, jitter=0.1, rand=lambda: 1.0).delay(0)
    assert (low, high) == (pytest.approx(9.0), pytest.approx(11.0))


def test_the_four_users_keep_their_delays():
    # the poll schedule: 2, 4, 8, 16 then 30 s (polls at 2, 6, 14, 30 s, then every 30 s)
    assert [PollSchedule(rand=lambda: 0.5).interval(n) for n in range(6)] == [2, 4, 8, 16, 30, 30]
    # a vendor call retried: full jitter under min(cap, base * 2**n)
    assert RetryPolicy(base=0.5, cap=8.0, rand=lambda: 1.0).delay(10) == 8.0
    assert RetryPolicy(base=0.5, cap=8.0, rand=lambda: 0.5).delay(1) == 0.5
    # the daemon's retry of a transient create: base * 2**(n-1), +/- 25 %
    w = WatchBackoff(base=10, cap=300, rand=lambda: 1.0)
    assert [w.failed("a", "fp", 0.0) for _ in range(3)] == [12.5, 25.0, 50.0]
    # a dead file watcher: 2, 4, 8 ... 60 s, no jitter
    assert [files.RESTART.delay(n) for n in (0, 1, 2, 10)] == [2, 4, 8, 60]


def test_pauses_are_none_before_the_first_try_then_each_delay_asked_only_when_tried_again():
    asked = []

    def delay(n):
        asked.append(n)
        return 10.0 * (n + 1)

    loop = backoff.pauses(3, delay)
    assert next(loop) == 0.0 and asked == []  # the first try waits for nothing
    assert next(loop) == 10.0 and asked == [0]
    assert list(loop) == [20.0] and asked == [0, 1]
    assert list(backoff.pauses(0, delay)) == [0.0]  # always at least one try
