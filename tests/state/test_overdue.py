"""Stalled renders and expiring outputs, judged without a clock (``overdue``), and the
poll schedule of a stalled render (``poller``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconciler.apply.schedule import PollSchedule, Tracker
from reconciler.config import load_config
from reconciler.model import RecordedVideo, Status
from reconciler.state import overdue

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc).timestamp()


def ago(seconds: float) -> str:
    return dt.datetime.fromtimestamp(NOW - seconds, dt.timezone.utc).isoformat(timespec="seconds")


def video(provider="xingyun", status=Status.RENDERING, **kw) -> RecordedVideo:
    return RecordedVideo(address="a", provider=provider, fingerprint="f", status=status, task_id="t1", **kw)


def config(tmp_path: Path, text: str = ""):
    (tmp_path / "reconciler.yaml").write_text(text)
    return load_config(tmp_path)


def test_a_render_is_stalled_past_its_vendors_stall_after(tmp_path):
    c = config(tmp_path, "providers:\n  xingyun: {stall_after: 600}\n")
    assert c.provider_settings("unisound").stall_after == 3600  # the default
    assert not overdue.is_stalled(video(submitted_at=ago(599)), c, NOW)
    assert overdue.is_stalled(video(submitted_at=ago(601)), c, NOW)
    assert not overdue.is_stalled(video(provider="unisound", submitted_at=ago(601)), c, NOW)
    assert not overdue.is_stalled(video(status=Status.FINISHED, submitted_at=ago(9999)), c, NOW)
    assert overdue.stall_remaining(video(submitted_at=ago(100)), c, NOW) == 500
    assert "--replace a" in overdue.describe_stall(video(submitted_at=ago(7200)), c, NOW)


def test_stall_after_must_be_a_positive_number(tmp_path):
    import pytest

    from reconciler.errors import ConfigError

    with pytest.raises(ConfigError, match=r"reconciler.yaml:2: providers.xingyun.stall_after"):
        config(tmp_path, "providers:\n  xingyun: {stall_after: -1}\n")


def test_a_finished_unisound_output_not_downloaded_for_a_day_is_warned_about():
    finished = dict(status=Status.FINISHED, output_task_id=None)
    assert overdue.download_warning(video("unisound", finished_at=ago(3600), **finished), NOW) is None
    warning = overdue.download_warning(video("unisound", finished_at=ago(30 * 3600), **finished), NOW)
    assert "expires in about 42 h" in warning and "reconciler refresh" in warning
    assert "already" in overdue.download_warning(video("unisound", finished_at=ago(4 * 86400), **finished), NOW)
    assert overdue.download_warning(video("xingyun", finished_at=ago(30 * 3600), **finished), NOW) is None
    downloaded = video("unisound", status=Status.FINISHED, finished_at=ago(30 * 3600), output_task_id="t1")
    assert overdue.download_warning(downloaded, NOW) is None


def test_a_stalled_render_is_polled_every_ten_minutes_and_not_waited_for():
    tracker = Tracker(PollSchedule(jitter=0.0))
    item = tracker.add("a", "xingyun", "t1", 0.0, stall_in=100.0)
    tracker.add("b", "xingyun", "t2", 0.0)
    assert tracker.active() == 2
    tracker.take_due(50.0, everything=True)
    tracker.reschedule(item, 50.0)
    assert not item.stalled and item.due < 100
    tracker.reschedule(item, 101.0)
    assert item.stalled and item.due == 701.0
    assert tracker.active() == 1 and len(tracker) == 2
