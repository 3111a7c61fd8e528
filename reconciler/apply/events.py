"""What the engine reports while it works, and two ways to show it.

Why a module of its own: the engine never prints (Terraform's ``Hook``/``NilHook``).
It calls ``hooks.event(Event(...))`` at every step of a video's life; a command
chooses how to show that: ``RichHooks`` (a terminal: a live progress line with the
count per state and the elapsed time, each state change printed above it) or
``PlainHooks`` (no terminal: one timestamped line per event, for logs and CI). The
watch daemon passes its own hooks. ``Tally`` keeps the per-video state the progress
display and the final summary are drawn from. What each kind of event means to each
of them (state, log level, failure, repeats, retry) is one table, ``ABOUT``.

"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Protocol

from reconciler.util import clock


class Kind(StrEnum):
    """Every event the engine reports. The comment is the video's state after it."""

    RECOVERED = "recovered"  # unknown: an intent left by a process that died
    TRACKING = "tracking"  # rendering: an unfinished render found in state
    SUBMITTING = "submitting"  # submitting: intent written, create being sent
    SUBMITTED = "submitted"  # rendering: the vendor answered with a task id
    NOT_SENT = "not_sent"  # failed: the create certainly never left this machine
    REJECTED = "rejected"  # failed: the vendor refused the create
    UNKNOWN = "unknown"  # unknown: the create's answer never arrived
    STATE = "state"  # rendering: the vendor reports a new state word
    STALLED = "stalled"  # stalled: still unfinished past stall_after; polled rarely, not waited for
    WARNING = "warning"  # (unchanged): needs a person soon (a finished output not downloaded for a day)
    POLL_ERROR = "poll_error"  # (unchanged): a status call failed; polled again later
    DOWNLOADING = "downloading"  # downloading: the render finished
    FINISHED = "finished"  # finished: the output is downloaded and verified
    FAILED = "failed"  # failed: the render failed at the vendor
    CANCELLED = "cancelled"  # cancelled: the vendor reports the render cancelled
    OUTPUT_LOST = "output_lost"  # failed: the output cannot be (or is no longer) had
    KEPT_ELSEWHERE = "kept_elsewhere"  # finished: the output is on another machine of a shared state
    OLD_CANCELLED = "old_cancelled"  # (unchanged): a superseded render was cancelled
    OLD_ABANDONED = "old_abandoned"  # (unchanged): a superseded render was abandoned
    UPDATED = "updated"  # updated: labels / prevent_destroy recorded, no render
    MOVED = "moved"  # (unchanged): the video now lives in another spec file, recorded
    DELETED = "deleted"  # deleted: removed from state, manifest and outputs
    SKIPPED = "skipped"  # skipped: not started because of an interrupt
    OTHER_ACCOUNT = "other_account"  # other account: its render belongs to another vendor account (docs/team.md); untouched
    ERROR = "error"  # failed: a step failed in a way that is none of the above

    @property
    def about(self) -> About:
        """What this kind of event means (``ABOUT``: the one table every reader uses)."""
        return ABOUT[self]


@dataclass(frozen=True)
class About:
    """How each reader treats one kind of event: the progress display and summary
    (``state``, ``final``), the engine's record of why a video failed (``failing``),
    the daemon's log (``level``, ``repeats``, ``progress``) and its retries (``retry``)."""

    state: str | None  # the video's display state after the event (None: unchanged)
    final: bool = False  # that state ends the video's run (counted done)
    level: str = "info"  # in the daemon's log: info, warning or error
    failing: bool = False  # the event's detail is why the video failed (the summary lists it)
    repeats: str = ""  # can recur without news, logged once per: "detail" (the same text), "task"
    progress: bool = False  # news of the render: its repeated facts (a poll error) are news again
    retry: bool = False  # a create that failed on this side: the daemon tries it again later
    notify: str = ""  # the `notify: on:` event it is (finished, failed, unknown, stalled); "" none


ABOUT: dict[Kind, About] = {
    Kind.RECOVERED: About("unknown", True, "warning", failing=True, repeats="detail", notify="unknown"),
    Kind.TRACKING: About("rendering", repeats="detail"),
    Kind.SUBMITTING: About("submitting"),
    Kind.SUBMITTED: About("rendering", progress=True),
    Kind.NOT_SENT: About("failed", True, "error", failing=True, retry=True, notify="failed"),
    Kind.REJECTED: About("failed", True, "error", failing=True, notify="failed"),
    Kind.UNKNOWN: About("unknown", True, "error", failing=True, notify="unknown"),
    Kind.STATE: About("rendering", progress=True),
    Kind.STALLED: About("stalled", True, "warning", failing=True, repeats="task", notify="stalled"),
    Kind.WARNING: About(None, level="warning", repeats="task"),
    Kind.POLL_ERROR: About(None, level="warning", repeats="task"),
    Kind.DOWNLOADING: About("downloading", progress=True),
    Kind.FINISHED: About("finished", True, progress=True, notify="finished"),
    Kind.FAILED: About("failed", True, "error", failing=True, progress=True, notify="failed"),
    Kind.CANCELLED: About("cancelled", True, "warning", failing=True, progress=True),
    Kind.OUTPUT_LOST: About("failed", True, "error", failing=True, notify="failed"),
    Kind.KEPT_ELSEWHERE: About("finished", True, "warning", repeats="detail"),
    Kind.OLD_CANCELLED: About(None),
    Kind.OLD_ABANDONED: About(None, level="warning"),
    Kind.UPDATED: About("updated", True),
    Kind.MOVED: About(None),
    Kind.DELETED: About("deleted", True, progress=True),
    Kind.SKIPPED: About("skipped", True),
    Kind.OTHER_ACCOUNT: About("other account", True, "error", failing=True, repeats="detail"),
    Kind.ERROR: About("failed", True, "error", failing=True, repeats="detail", retry=True),
}
FINAL = frozenset(a.state for a in ABOUT.values() if a.final and a.state)
ORDER = ("submitting", "rendering", "stalled", "downloading", "finished", "updated", "deleted",
         "failed", "unknown", "cancelled", "skipped", "other account")


@dataclass(frozen=True)
class Event:
    kind: Kind
    address: str
    provider: str = ""
    task_id: str | None = None
    detail: str = ""  # a human sentence: the error, the vendor's state word, ...

    @property
    def state(self) -> str | None:
        return self.kind.about.state

    def line(self) -> str:
        """``address  kind  task N: detail``, the body of both renderings."""
        parts = [self.address, self.kind.value.replace("_", " ")]
        if self.task_id:
            parts.append(f"task {self.task_id}")
        text = "  ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text


class Hooks(Protocol):
    """What the engine calls. ``start`` (optional) is called by commands, not the engine."""

    def event(self, event: Event) -> None: ...

    def close(self) -> None: ...


class Tally:
    """The latest display state of every video the engine reported on."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def add(self, event: Event) -> None:
        if event.state is not None:
            self.states[event.address] = event.state

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for state in self.states.values():
            out[state] = out.get(state, 0) + 1
        return {k: out[k] for k in ORDER if k in out}

    def done(self) -> int:
        return sum(1 for s in self.states.values() if s in FINAL)

    def describe(self) -> str:
        return ", ".join(f"{n} {state}" for state, n in self.counts().items()) or "nothing yet"


class NullHooks:
    """Reports nowhere but still tallies (library users, tests)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.events: list[Event] = []

    def event(self, event: Event) -> None:
        self.tally.add(event)
        self.events.append(event)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class PlainHooks:
    """One line per event on ``stream`` (stderr): ``2026-01-02T03:04:05Z address kind ...``."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr

    def event(self, event: Event) -> None:
        self.stream.write(f"{clock.stamp()} {event.line()}\n")
        self.stream.flush()

    def start(self) -> None:
        pass

    def close(self) -> None:
        self.stream.flush()


_STYLE = {"finished": "green", "failed": "red", "unknown": "red", "cancelled": "yellow", "stalled": "yellow",
          "deleted": "red", "updated": "yellow", "skipped": "yellow", "other account": "red"}


class RichHooks:
    """A live progress line on a terminal (counts per state, elapsed time); every
    state change is printed above it."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.tally = Tally()
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._task = None

    def start(self) -> None:
        """Show the live progress line (events before this are printed plainly)."""
        if self._task is None:
            self.progress.start()
            self._task = self.progress.add_task("", total=None)

    def event(self, event: Event) -> None:
        from rich.text import Text

        self.tally.add(event)
        style = _STYLE.get(event.state or "", "")
        self.progress.console.print(Text(event.line(), style=style))
        if self._task is not None:
            self.progress.update(self._task, description=self.tally.describe(),
                                 total=len(self.tally.states), completed=self.tally.done())

    def close(self) -> None:
        if self._task is not None:
            self.progress.stop()
            self._task = None


def make_hooks(stream: IO[str] | None = None) -> RichHooks | PlainHooks:
    """Rich progress when ``stream`` (stderr) is a terminal, else one line per event."""
    stream = stream or sys.stderr
    if stream.isatty():
        from rich.console import Console

        return RichHooks(Console(file=stream))
    return PlainHooks(stream)
