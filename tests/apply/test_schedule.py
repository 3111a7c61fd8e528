"""The poll schedule and the tracker, on a clock we pass in (no sleeping)."""

from __future__ import annotations

import json
import random
from typing import Callable

import pytest

from reconciler.apply.schedule import FIRST_POLL_ENV, MIN_SAMPLES, Durations, PollSchedule, Tracker


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


# -- the learned schedule: durations by vendor and script size ---------------------------------

def _history(durations: Durations, provider: str, n: int, seconds: Callable[[int, int], float],
             rand: random.Random) -> None:
    for _ in range(n):
        chars, segments = rand.randint(20, 400), rand.randint(1, 4)
        durations.add(provider, chars, segments, seconds(chars, segments) * rand.uniform(0.7, 1.3))


def _true(chars: int, segments: int) -> float:
    return 2.0 + 0.01 * chars + 0.3 * segments


def _learned(n: int = 200, seed: int = 1) -> Durations:
    durations = Durations()
    _history(durations, "xingyun", n, _true, random.Random(seed))
    return durations


def test_durations_are_learned_per_vendor_and_script_size():
    durations = _learned()
    for chars, segments in ((30, 1), (200, 2), (400, 4)):
        estimate = durations.estimate("xingyun", chars, segments)
        assert estimate.expected == pytest.approx(_true(chars, segments), rel=0.1)
        assert list(estimate.grid) == sorted(estimate.grid)
    assert durations.estimate("xingyun", 400, 4).expected > 2 * durations.estimate("xingyun", 20, 1).expected
    assert durations.estimate("unisound", 200, 1) is None  # another vendor learns nothing from these


def test_too_little_history_keeps_the_vendors_schedule():
    durations = Durations()
    _history(durations, "xingyun", MIN_SAMPLES - 1, _true, random.Random(2))
    t = Tracker(PollSchedule(first=2.0, jitter=0), durations)
    item = t.add("a", "xingyun", "1", now=100, size=(200, 2), elapsed=0.0)
    assert item.due == 102  # the first poll 2 s after the submit, as docs/vendors.md asks
    durations.add("xingyun", 200, 2, _true(200, 2))
    assert t.add("b", "xingyun", "2", now=100, size=(200, 2), elapsed=0.0).due > 103  # now learned


def test_a_render_is_not_polled_while_it_is_clearly_early():
    t = Tracker(PollSchedule(jitter=0), _learned())
    item = t.add("a", "xingyun", "1", now=0, size=(200, 2), elapsed=0.0)
    assert item.due >= 0.7 * _true(200, 2)  # no render of that size ever took less


def test_a_render_found_after_submit_is_polled_now_and_then_on_its_grid():
    t = Tracker(PollSchedule(jitter=0), _learned())
    item = t.add("a", "xingyun", "1", now=50, immediate=True, size=(200, 2), elapsed=3.0)
    assert item.due == 50
    [taken] = t.take_due(50)
    taken.polls = 1
    t.reschedule(taken, now=50)
    assert 50 < taken.due <= 50 + 1.3 * _true(200, 2) - 3.0 + 0.01  # by its expected end, counted from its submit


def _run(t: Tracker, durations: list[float], sizes: list[tuple[int, int]]) -> tuple[float, float]:
    """Follow renders of these durations on a fake clock: (status calls per render, mean lateness)."""
    calls, late = 0, 0.0
    for i, (seconds, size) in enumerate(zip(durations, sizes)):
        item = t.add(f"v{i}", "xingyun", str(i), now=0.0, size=size, elapsed=0.0)
        while True:
            [taken] = t.take_due(item.due)
            taken.polls += 1
            calls += 1
            if taken.due >= seconds:
                late += taken.due - seconds
                t.finished(taken, taken.due)
                t.release(taken)
                break
            t.unfinished(taken, taken.due)
            t.reschedule(taken, taken.due)
    return calls / len(durations), late / len(durations)


def test_status_calls_stay_at_most_three_per_render_and_polls_land_near_the_end():
    rand = random.Random(3)
    sizes = [(rand.randint(20, 400), rand.randint(1, 4)) for _ in range(300)]
    durations = [_true(*size) * rand.uniform(0.7, 1.3) for size in sizes]
    learned, late = _run(Tracker(PollSchedule(jitter=0), _learned()), durations, sizes)
    assert learned <= 3.0
    assert late <= 0.1 * sum(durations) / len(durations)  # seen finished within a tenth of a render, on average
    _, vendors_late = _run(Tracker(PollSchedule(jitter=0), _Forgetful()), durations, sizes)
    assert late < 0.75 * vendors_late  # the vendors' fixed schedule waits longer past the end (and more so for long renders)


class _Forgetful(Durations):
    def add(self, *args) -> None:  # learns nothing: the vendors' schedule for ever
        pass


def test_a_history_that_reads_renders_late_is_corrected_by_what_first_polls_find():
    durations = Durations()
    _history(durations, "xingyun", 200, lambda c, s: 1.5 * _true(c, s), random.Random(4))  # each seen 50 % late
    t = Tracker(PollSchedule(jitter=0), durations)
    rand = random.Random(5)
    sizes = [(rand.randint(20, 400), rand.randint(1, 4)) for _ in range(400)]
    before = durations.estimate("xingyun", 200, 2).expected
    _run(t, [_true(*size) * rand.uniform(0.7, 1.3) for size in sizes], sizes)
    after = durations.estimate("xingyun", 200, 2).expected
    assert after < before and after == pytest.approx(_true(200, 2), rel=0.2)


def test_a_render_still_queued_waits_at_least_half_its_expected_time():
    t = Tracker(PollSchedule(jitter=0), _learned())
    item = t.add("a", "xingyun", "1", now=0, size=(200, 2), elapsed=0.0)
    first = item.due
    [taken] = t.take_due(first)
    taken.polls, taken.queued = 1, True
    t.reschedule(taken, first)
    assert taken.due - first >= 0.5 * _true(200, 2) * 0.9


def test_retry_after_is_honoured_and_a_stalled_render_is_polled_rarely_whatever_was_learned():
    t = Tracker(PollSchedule(jitter=0, stalled_interval=600), _learned())
    item = t.add("a", "xingyun", "1", now=0, size=(200, 2), elapsed=0.0, stall_in=3600)
    first = item.due
    [taken] = t.take_due(first)
    taken.polls = 1
    t.reschedule(taken, now=first, retry_after=120)
    assert taken.due == first + 120
    [taken] = t.take_due(taken.due)
    t.reschedule(taken, now=3601)
    assert taken.stalled and taken.due == 3601 + 600 and t.active() == 0


def test_a_long_late_render_backs_off_to_the_cap():
    t = Tracker(PollSchedule(jitter=0, cap=30), _learned())
    item = t.add("a", "xingyun", "1", now=0, size=(200, 2), elapsed=0.0)
    gaps, now = [], item.due
    for _ in range(60):
        [taken] = t.take_due(now)
        taken.polls += 1
        t.reschedule(taken, now)
        gaps.append(taken.due - now)
        now = taken.due
    assert gaps[-1] == 30 and all(g > 0 for g in gaps) and sorted(gaps[5:]) == gaps[5:]


def test_the_history_is_read_from_the_state_rows_and_rows_that_do_not_read_are_skipped():
    rows = [{"provider": "unisound", "request": json.dumps({"text": "x" * 100}),
             "submitted_at": f"2026-01-01T00:{i:02d}:00+00:00", "finished_at": f"2026-01-01T00:{i:02d}:05+00:00"}
            for i in range(MIN_SAMPLES)]
    rows.append({"provider": "unisound", "request": "not json", "submitted_at": "x", "finished_at": None})
    durations = Durations()
    durations.learn_history(rows)
    assert durations.samples("unisound") == MIN_SAMPLES
    assert durations.estimate("unisound", 100, 1).expected == pytest.approx(5.0)


def test_the_test_knob_still_moves_the_first_poll_without_history(monkeypatch):
    monkeypatch.setenv(FIRST_POLL_ENV, "0.7")
    item = Tracker().add("a", "xingyun", "1", now=0, size=(200, 2), elapsed=0.0)
    assert item.due == pytest.approx(0.7, rel=0.11)
