"""The manifest, kept in step with the state while an engine runs: batched, atomic.

Why a module of its own: the engine records outcomes by the thousand, and rewriting
``state/manifest.json`` after each would cost more than the work itself; but the
manifest must never fall behind the state by more than the event in flight. So
``changed()`` schedules one write within ``interval`` (longer when a write is
expensive), on the engine's state thread (so it reads a state between two writes),
and ``aflush()`` makes the last write of a run.

A write that fails is never retried in a busy loop. The file cannot be written (the
path is a folder, no space left): ``on_error`` is told at once (the engine halts: no
new work), and the final ``aflush`` raises ``ManifestError`` with what to fix. The
state cannot be read (its server unreachable, ``StateError``): tried again after a
growing delay (``util.backoff``), as the daemon waits out a short outage; the final
``aflush`` tries once and raises the state's own error. Once ``aflush`` has begun, no
background write is scheduled any more, so it always ends.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from reconciler.errors import ManifestError, StateError
from reconciler.state import manifest
from reconciler.state.store import Store
from reconciler.util import backoff
from reconciler.util.crashpoint import crash_point


class ManifestWriter:
    """Writes ``write_manifest(path, store.recorded())`` soon after changes, batched.

    With an ``executor`` (the engine's state thread) a background write reads the
    state there, after the state writes queued before it, and renders and writes the
    file on a thread of its own, so the intents of paid creates never wait behind the
    JSON of 10,000 videos; without one (or outside an event loop) it all runs in the
    caller's thread."""

    def __init__(self, path: Path, store: Store, *, interval: float = 0.5,
                 executor: Executor | None = None, on_error: Callable[[str | Exception], None] | None = None,
                 public_url: manifest.PublicUrl | None = None):
        self.path = path
        self.public_url = public_url  # the manifest's ``url`` per video (outputs_public_url), if any
        self.on_error = on_error
        self.store = store
        self.interval = interval
        self.executor = executor
        self.error: Exception | None = None  # a failed background write, raised by the next flush
        self._dirty = False
        self._last = 0.0
        self._gap = interval  # grows with the cost of a write (see _write)
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future | None = None
        self._unread = 0  # background writes in a row that could not read the state
        self._retry = backoff.Exponential(max(interval, 0.5), 30.0, jitter=0.1)
        self._final = False  # aflush has begun: nothing more is scheduled
        self._renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler-manifest")

    def changed(self) -> None:
        """The state changed in a way the manifest shows: write within ``interval``."""
        self._dirty = True
        if self._timer is not None or self._writing is not None or self._final:
            return  # a write is due or running (it re-checks ``_dirty`` when done), or the last one is
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        wait = max(0.0, self._last + self._gap - time.monotonic())
        self._schedule(loop, wait)

    def _schedule(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        self._timer = loop.call_later(wait, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._writing = loop.create_task(self._write_in_background(loop))
        self._writing.add_done_callback(self._written)

    def _written(self, _future) -> None:
        self._writing = None
        if self._final:
            return  # aflush writes the last one itself
        if isinstance(self.error, StateError):  # the state could not be read: later, not at once
            self._unread += 1
            self._schedule(asyncio.get_running_loop(), self._retry.delay(self._unread - 1))
            return
        if self.error is not None:  # the file could not be written (or a bug): said once, not retried
            if self.on_error is not None:
                self.on_error(str(self._failure(self.error)) if isinstance(self.error, OSError) else self.error)
            return  # the final aflush tries once more and raises
        self._unread = 0
        if self._dirty:
            self.changed()

    def _failure(self, exc: Exception) -> ManifestError:
        return ManifestError(f"could not write the manifest {self.path} ({exc}); the state is saved: fix the path "
                             "or free disk space, then run `reconciler refresh` to write it")

    async def _write_in_background(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._dirty, self.error = False, None
            recorded = await loop.run_in_executor(self.executor, self.store.recorded)
            await loop.run_in_executor(self._renderer, self._publish, recorded)
        except asyncio.CancelledError:
            self._dirty = True  # torn down half-way: the final flush writes it
            raise
        except Exception as exc:  # noqa: BLE001 - kept and raised by the next flush()
            self.error, self._dirty = exc, True

    def _write(self) -> None:
        self._dirty, self.error = False, None
        self._publish(self.store.recorded())

    def _publish(self, recorded) -> None:
        crash_point("before_manifest")
        started = time.monotonic()
        if self.public_url is None:
            manifest.write_manifest(self.path, recorded)
        else:
            manifest.write_manifest(self.path, recorded, self.public_url)
        self._last = time.monotonic()
        # A write of 10,000 videos takes a few tenths of a second of CPU (and of the GIL
        # the event loop needs too): keep writing to at most a third of the time.
        self._gap = max(self.interval, 2 * (self._last - started))

    def flush(self, *, force: bool = False) -> None:
        """Write now, in this thread, if anything changed (or ``force``). Not while an
        event loop runs this writer: use ``aflush`` there."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._dirty or force or self.error is not None:
            try:
                self._write()
            except OSError as exc:
                raise self._failure(exc) from None

    async def aflush(self, *, force: bool = True) -> None:
        """The final write of a run: wait for a background write, then write if needed
        (by default always: ``write_manifest`` leaves an unchanged file alone)."""
        self._final = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.shield(self._writing)  # its errors are kept in ``error``, never raised
        if self._dirty or force or self.error is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(self.executor, self._write)
            except OSError as exc:
                raise self._failure(exc) from None
