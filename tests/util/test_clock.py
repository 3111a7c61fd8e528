"""The one clock: every stamp the project writes reads it, so freezing it once freezes all."""

import datetime as dt
import io

from reconciler.apply.events import Event, Kind, PlainHooks
from reconciler.util import clock
from reconciler.watch.eventlog import EventLog

FROZEN = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)


def test_stamps_are_utc_in_their_two_forms(monkeypatch):
    monkeypatch.setattr(clock, "utc_now", lambda: FROZEN)
    assert clock.iso_now() == "2026-01-02T03:04:05+00:00"
    assert clock.stamp() == "2026-01-02T03:04:05Z"
    assert clock.stamp(millis=True) == "2026-01-02T03:04:05.678Z"


def test_progress_lines_and_daemon_log_read_the_one_clock(monkeypatch):
    monkeypatch.setattr(clock, "utc_now", lambda: FROZEN)
    plain, log = io.StringIO(), io.StringIO()
    PlainHooks(plain).event(Event(Kind.FINISHED, "a/b"))
    EventLog(log).info("plan", "1 to create")
    assert plain.getvalue().startswith("2026-01-02T03:04:05Z a/b  finished")
    assert log.getvalue().startswith("2026-01-02T03:04:05.678Z INFO")
