"""The poll schedule and the tracker, on a clock we pass in (no sleeping)."""

from __future__ import annotations

import pytest

from reconciler.apply.schedule import FIRST_POLL_ENV, PollSchedule, Tracker


def test_schedule_starts_after_a_few_seconds_grows_and_is_capped():
    s = PollSchedule(rand=lambda: 0.5)  # no jitter
    intervals = [s.interval(n) for n in range(8)]
    assert 1.5 <= intervals[0] <= 5
    for a, b in zip(intervals, intervals[1:]):
        assert b == pytest.approx(min(30.0, a * s.factor)) or b == 30.0
    assert 1.5 <= s.factor <= 2 and max(intervals) == 30.0


def test_status_calls_per_render():
    """A 5 s render is seen finished by the 2nd poll; a 10-minute one needs ~25."""
    s = PollSchedule(rand=lambda: 0.0)  # the earliest jitter: the most polls

    def polls_until(seconds: float) -> int:
        t, n = 0.0, 0
        while t < seconds:
            t += s.interval(n)
            n += 1
        return n

    assert polls_until(5.0) <= 6
    assert polls_until(600.0) <= 30


def test_jitter_spreads_polls_within_bounds():
    values = iter([0.0, 1.0])
    s = PollSchedule(jitter=0.1, rand=lambda: next(values))
    assert s.interval(0) == pytest.approx(s.first * 0.9)
    assert s.interval(0) == pytest.approx(s.first * 1.1)


def test_tracker_hands_out_due_items_in_time_order():
    t = Tracker(PollSchedule(first=10, jitter=0))
    t.add("b", "xingyun", "2", now=0)
    t.add("a", "xingyun", "1", now=5)
    t.add("c", "unisound", "3", now=0, immediate=True)
    assert [i.address for i in t.take_due(0)] == ["c"]
    assert t.next_due() == 10
    assert [i.address for i in t.take_due(12)] == ["b"]
    assert [i.address for i in t.take_due(15)] == ["a"]
    assert t.take_due(100) == [] and len(t) == 3  # all busy until rescheduled or released


def test_busy_items_are_rescheduled_or_released():
    t = Tracker(PollSchedule(first=1, factor=2, jitter=0))
    item = t.add("a", "xingyun", "1", now=0)
    [taken] = t.take_due(1)
    taken.polls = 1
    t.reschedule(taken, now=1)
    assert t.next_due() == 3
    [taken] = t.take_due(3)
    t.release(taken)
    assert len(t) == 0 and t.next_due() is None and item is taken


def test_a_new_task_replaces_the_old_one_even_while_it_is_being_polled():
    t = Tracker(PollSchedule(first=1, jitter=0))
    old = t.add("a", "xingyun", "1", now=0)
    [busy] = t.take_due(1)
    new = t.add("a", "xingyun", "2", now=1)
    t.reschedule(busy, now=1)  # the old poll's answer arrives: ignored
    assert t.get("a") is new and old is busy
    assert [i.task_id for i in t.take_due(2)] == ["2"]
    t.release(busy)  # releasing the old item does not drop the new one
    assert t.get("a") is new


def test_adding_the_same_task_twice_keeps_one_entry():
    t = Tracker(PollSchedule(first=1, jitter=0))
    first = t.add("a", "xingyun", "1", now=0)
    assert t.add("a", "xingyun", "1", now=0, immediate=True) is first
    assert len(t.take_due(5)) == 1


def test_take_everything_for_refresh():
    t = Tracker(PollSchedule(first=100, jitter=0))
    for i in range(5):
        t.add(f"v{i}", "xingyun", str(i), now=0)
    assert len(t.take_due(0, everything=True)) == 5


def test_a_run_polls_first_after_two_seconds_unless_the_test_knob_says_otherwise(monkeypatch):
    monkeypatch.delenv(FIRST_POLL_ENV, raising=False)
    assert PollSchedule.for_run().first == 2.0  # docs/vendors.md: a few seconds first
    monkeypatch.setenv(FIRST_POLL_ENV, "0.5")
    assert PollSchedule.for_run().first == 0.5
    assert Tracker().add("a", "xingyun", "1", now=0).due < 1
    for junk in ("", "soon", "0", "-1", "nan", "inf"):
        monkeypatch.setenv(FIRST_POLL_ENV, junk)
        assert PollSchedule.for_run().first == 2.0, junk
