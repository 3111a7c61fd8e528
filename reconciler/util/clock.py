"""The one wall clock: UTC now, and the two string forms the project writes it in.

Why a module of its own: state rows, the writer lock's holder, progress lines and the
daemon's log all stamp the time. With one function to read the clock, every stamp is
UTC, each form is written one way, and a test freezes time in one place
(``monkeypatch.setattr(clock, "utc_now", ...)``). Durations and schedules use
``time.monotonic`` instead (a wall clock can jump); this module is only for stamps.
"""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def iso_now() -> str:
    """``2026-01-02T03:04:05+00:00``: the form stored in state and lock files."""
    return utc_now().isoformat(timespec="seconds")


def iso_ago(seconds: float) -> str:
    """``iso_now`` of ``seconds`` ago."""
    return (utc_now() - dt.timedelta(seconds=max(0.0, seconds))).isoformat(timespec="seconds")


def stamp(*, millis: bool = False) -> str:
    """``2026-01-02T03:04:05Z`` (or ``...05.123Z``): the form that starts a log line."""
    now = utc_now()
    text = now.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{now.microsecond // 1000:03d}Z" if millis else f"{text}Z"
