"""Task states as a pure function of wall-clock time since creation.

Nothing ticks: a status call computes the state from ``created_at``, the render time
fixed at creation and a possible ``cancelled_at``, so tasks progress while no process
runs and a restarted simulator agrees with the previous one. Over a render time ``R``:

- Xingyun: ``not_send`` [0, 0.1R), ``waiting`` [0.1R, 0.3R), ``processing`` [0.3R, R),
  then ``finished``, or ``error`` for a request carrying the ``SIM_FAIL`` marker;
  ``cancel`` when cancelled before R.
- Unisound: ``waiting`` [0, 0.3R), ``running`` [0.3R, R), then ``done`` (a failed render
  is ``done`` without ``video_address``, see unisound.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.sim.store import Task

FAIL_MARKER = "SIM_FAIL"
XINGYUN_UNFINISHED = ("not_send", "waiting", "processing")


@dataclass(frozen=True)
class Progress:
    state: str
    started_at: float | None  # rendering began (synth_start_time)
    finished_at: float | None  # finished successfully (synth_finish_time)
    ended_at: float | None  # reached any terminal state


def xingyun_progress(task: Task, now: float) -> Progress:
    r = task.render_seconds
    start, end = task.created_at + 0.3 * r, task.created_at + r
    if task.cancelled_at is not None and task.cancelled_at < end:
        began = start if task.cancelled_at >= start else None
        return Progress("cancel", began, None, task.cancelled_at)
    if now >= end:
        if task.fail_reason:
            return Progress("error", start, None, end)
        return Progress("finished", start, end, end)
    if now >= start:
        return Progress("processing", start, None, None)
    if now >= task.created_at + 0.1 * r:
        return Progress("waiting", None, None, None)
    return Progress("not_send", None, None, None)


def unisound_progress(task: Task, now: float) -> Progress:
    r = task.render_seconds
    start, end = task.created_at + 0.3 * r, task.created_at + r
    if now >= end:
        return Progress("done", start, None if task.fail_reason else end, end)
    if now >= start:
        return Progress("running", start, None, None)
    return Progress("waiting", None, None, None)


def fail_reason_for(texts: list[str]) -> str | None:
    """Why a render with these texts fails (the ``SIM_FAIL`` marker), or None."""
    if any(FAIL_MARKER in t for t in texts):
        return f"合成任务失败,请重新发起或联系客服处理 (simulated: text contains {FAIL_MARKER})"
    return None
