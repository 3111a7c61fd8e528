"""The published outputs: video files under ``outputs/`` and the manifest that lists them.

Why a module of its own: these are the two things a user keeps (and may commit), so
the rules about them sit in one place:

- A video's file is ``<outputs>/<address>.mp4``; state and manifest record its
  project-relative path. Only such a *managed* path is ever deleted, so a state
  edited by hand cannot make reconciler remove a file elsewhere.
- ``check_output`` is how ``refresh`` notices a file that is gone or was changed
  (sha256 differs from the one recorded at download).
- ``ManifestWriter`` keeps ``state/manifest.json`` in step with the state DB without
  rewriting it for every one of thousands of events: a change schedules one write at
  most every ``interval`` seconds, and ``flush`` writes whatever is pending (the
  commands call it before they exit, so the manifest never lags the state by more
  than the event in flight when a process is killed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from concurrent.futures import Executor
from pathlib import Path

from reconciler import manifest
from reconciler.config import Config
from reconciler.hooks import crash_point
from reconciler.model import RecordedVideo, Status
from reconciler.state import StateStore

SUFFIX = ".mp4"


def output_path(config: Config, address: str) -> Path:
    """Where the output of ``address`` lives (absolute)."""
    return config.outputs_dir / f"{address}{SUFFIX}"


def relative(config: Config, path: Path) -> str:
    """The project-relative posix path recorded in state and manifest."""
    return config.rel(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_output(config: Config, video: RecordedVideo) -> str | None:
    """Why the published output of ``video`` is lost (missing, changed), or None if intact."""
    if not video.has_output:
        return None
    path = config.root / video.output_file
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        return f"{video.output_file} is missing"
    except OSError as exc:
        return f"{video.output_file} cannot be read ({exc.strerror or exc})"
    if actual != video.output_sha256:
        return f"{video.output_file} was changed (sha256 {actual[:12]}…, recorded {(video.output_sha256 or '')[:12]}…)"
    return None


def notice_missing(config: Config, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
    """``recorded`` with every finished video whose published file is gone (or has another
    size than recorded) marked lost, in memory only: ``plan`` and ``apply`` then propose
    to render it again without a ``refresh`` first (CONTRACT §3, "its output is lost").
    One ``stat`` per file; hashing every output stays with ``refresh`` (``check_output``).
    A video whose newer render is still running or not yet downloaded is left alone."""
    out = recorded
    for address, video in recorded.items():
        if not video.has_output or video.status is not Status.FINISHED or video.output_task_id != video.task_id:
            continue
        try:
            size = (config.root / video.output_file).stat().st_size
        except FileNotFoundError:
            why = f"{video.output_file} is missing"
        except OSError as exc:
            why = f"{video.output_file} cannot be read ({exc.strerror or exc})"
        else:
            if video.output_bytes is None or size == video.output_bytes:
                continue
            why = f"{video.output_file} has {size} bytes, recorded {video.output_bytes}"
        if out is recorded:
            out = dict(recorded)
        out[address] = dataclasses.replace(video, output_lost=True, error=f"output lost: {why}")
    return out


def remove_output(config: Config, address: str, recorded_file: str | None) -> bool:
    """Delete the managed output file of ``address`` (if the state points at it) and the
    directories it leaves empty under ``outputs/``. True if a file was removed."""
    if not recorded_file:
        return False
    managed = output_path(config, address)
    if (config.root / recorded_file).resolve() != managed.resolve():
        return False  # not ours to delete
    try:
        managed.unlink()
    except FileNotFoundError:
        return False
    top = config.outputs_dir.resolve()
    parent = managed.resolve().parent
    while parent != top and top in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return True


def sweep_partials(config: Config) -> list[Path]:
    """Remove the temporary files of downloads a killed process left half-done
    (``.<name>.mp4.*.part``, see ``providers.download``). Call only under the lock."""
    if not config.outputs_dir.is_dir():
        return []
    removed = []
    for path in config.outputs_dir.rglob(f".*{SUFFIX}.*.part"):
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


class ManifestWriter:
    """Writes ``write_manifest(path, store.recorded())`` soon after changes, batched.

    With an ``executor`` (the engine's state thread) the write runs there, after the
    state writes queued before it; without one (or outside an event loop) it runs in
    the caller's thread."""

    def __init__(self, path: Path, store: StateStore, *, interval: float = 0.5,
                 executor: Executor | None = None):
        self.path = path
        self.store = store
        self.interval = interval
        self.executor = executor
        self.error: Exception | None = None  # a failed background write, raised by the next flush
        self._dirty = False
        self._last = 0.0
        self._gap = interval  # grows with the cost of a write (see _write)
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future | None = None

    def changed(self) -> None:
        """The state changed in a way the manifest shows: write within ``interval``."""
        self._dirty = True
        if self._timer is not None or self._writing is not None:
            return  # a write is due or running; a running one re-checks ``_dirty`` when done
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        wait = max(0.0, self._last + self._gap - time.monotonic())
        self._timer = loop.call_later(wait, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._writing = loop.run_in_executor(self.executor, self._write_in_background)
        self._writing.add_done_callback(self._written)

    def _written(self, _future) -> None:
        self._writing = None
        if self._dirty:
            self.changed()

    def _write_in_background(self) -> None:
        try:
            self._write()
        except Exception as exc:  # noqa: BLE001 - kept and raised by the next flush()
            self.error, self._dirty = exc, True

    def _write(self) -> None:
        self._dirty, self.error = False, None
        crash_point("before_manifest")
        started = time.monotonic()
        manifest.write_manifest(self.path, self.store.recorded())
        self._last = time.monotonic()
        # A write of 10,000 videos takes most of a second on the state thread, where the
        # intents of paid creates queue behind it: keep writes to a third of that thread.
        self._gap = max(self.interval, 2 * (self._last - started))

    def flush(self, *, force: bool = False) -> None:
        """Write now, in this thread, if anything changed (or ``force``). Not while an
        event loop runs this writer: use ``aflush`` there."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._dirty or force or self.error is not None:
            self._write()

    async def aflush(self, *, force: bool = True) -> None:
        """The final write of a run: wait for a background write, then write if needed
        (by default always: ``write_manifest`` leaves an unchanged file alone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._writing is not None:
            await asyncio.shield(self._writing)
            await asyncio.sleep(0)  # let its done-callback run
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._dirty or force or self.error is not None:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._write)
