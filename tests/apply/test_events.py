"""How engine events are shown: one plain line each, or rich progress on a terminal."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

from reconciler.apply.events import Event, Kind, PlainHooks, RichHooks, Tally, make_hooks


def test_plain_hooks_write_one_timestamped_line_per_event():
    stream = io.StringIO()
    hooks = PlainHooks(stream)
    hooks.event(Event(Kind.SUBMITTED, "launch/intro", "xingyun", "135"))
    hooks.event(Event(Kind.FAILED, "faq/q1", "unisound", "t1", "quota exhausted"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    stamp, rest = lines[0].split(" ", 1)
    assert stamp.endswith("Z") and "T" in stamp
    assert rest == "launch/intro  submitted  task 135"
    assert lines[1].endswith("faq/q1  failed  task t1: quota exhausted")


def test_tally_counts_each_video_by_its_latest_state():
    tally = Tally()
    for kind, address in [(Kind.SUBMITTING, "a"), (Kind.SUBMITTED, "a"), (Kind.SUBMITTING, "b"),
                          (Kind.UNKNOWN, "b"), (Kind.DOWNLOADING, "a"), (Kind.FINISHED, "a"),
                          (Kind.POLL_ERROR, "c"), (Kind.OLD_CANCELLED, "a"), (Kind.DELETED, "d")]:
        tally.add(Event(kind, address))
    assert tally.counts() == {"finished": 1, "deleted": 1, "unknown": 1}
    assert tally.done() == 3
    assert tally.describe() == "1 finished, 1 deleted, 1 unknown"


def test_rich_hooks_print_changes_above_a_progress_line():
    from rich.console import Console

    out = io.StringIO()
    hooks = RichHooks(Console(file=out, force_terminal=True, width=120))
    hooks.event(Event(Kind.RECOVERED, "old", "xingyun", detail="may have been paid for"))  # before start
    hooks.start()
    hooks.event(Event(Kind.SUBMITTED, "a", "xingyun", "1"))
    hooks.event(Event(Kind.FINISHED, "a", "xingyun", "1", "outputs/a.mp4 (10 bytes)"))
    hooks.close()
    text = out.getvalue()
    assert "old  recovered: may have been paid for" in text
    assert "a  finished  task 1: outputs/a.mp4 (10 bytes)" in text
    assert hooks.tally.counts() == {"finished": 1, "unknown": 1}
    assert hooks.progress.tasks[0].completed == 2 and hooks.progress.tasks[0].total == 2


def test_make_hooks_is_plain_without_a_terminal():
    assert isinstance(make_hooks(io.StringIO()), PlainHooks)


def _crash_script(env_value: str) -> subprocess.CompletedProcess:
    code = ("from reconciler.util.crashpoint import crash_point\n"
            "crash_point('after_intent'); print('one', flush=True)\n"
            "crash_point('after_intent'); print('two', flush=True)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "RECONCILER_TEST_CRASH_AT": env_value})


def test_crash_point_kills_at_the_nth_hit_only_when_asked():
    result = _crash_script("after_intent:2")
    assert result.returncode == -signal.SIGKILL and result.stdout == "one\n"
    assert _crash_script("after_submit").stdout == "one\ntwo\n"


def test_one_table_says_what_every_kind_means():
    from reconciler.apply.events import ABOUT

    assert set(ABOUT) == set(Kind)  # a new kind without a row fails here, not in a reader
    assert {k for k, a in ABOUT.items() if a.retry} == {Kind.NOT_SENT, Kind.ERROR}
    assert all(a.level in ("info", "warning", "error") for a in ABOUT.values())
    assert all(a.repeats in ("", "detail", "task") for a in ABOUT.values())
    # every failing kind ends the video's run in a state the summary reports as not ok
    assert all(a.final and a.state in ("failed", "unknown", "cancelled", "stalled", "other account") for a in ABOUT.values()
               if a.failing)
