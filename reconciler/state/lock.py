"""The writer lock of a state: only one apply, refresh or watch changes it at a time.

An ``flock`` on a sidecar file (``reconciler.db.lock``), released by the kernel when
its holder dies (even by ``kill -9``), with the holder's pid/host/command/since
written inside, so a second writer fails at once naming it, and a takeover of a dead
holder's lock can be reported. Readers may ``held()``-probe it without creating
anything (``plan`` does, to read a dead writer's intents as apply will). A lock path
that is not a regular file (a folder someone made there) is a ``StateError`` for
writers and readers alike, not a traceback and not "unlocked".
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from reconciler.errors import LockHeldError, StateError
from reconciler.util import clock


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.command}, since {self.since})"

    def known_dead(self) -> bool:
        """Whether this holder is certainly gone: a pid on this very host that no longer
        runs (``kill(pid, 0)``). A holder on another host, or a pid that exists (perhaps
        reused), is never called dead."""
        import socket

        if self.host != socket.gethostname() or not isinstance(self.pid, int) or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # EPERM: it runs, as another user
            return False
        return False


def held_message(where, holder: LockHolder | None, *, ends_in: float | None = None) -> str:
    """Why a writer cannot start: who holds the state. A holder known dead (a crash on
    this host) is said to be, with when its lease runs out (``ends_in`` seconds; a
    PostgreSQL lease outlives its holder by up to that long), so nobody waits for a
    process that will never finish."""
    if holder is None:
        return f"the state {where} is locked by another process; wait for it to finish or stop it"
    if holder.known_dead() and ends_in is not None:
        until = (clock.utc_now() + timedelta(seconds=max(0.0, ends_in))).isoformat(timespec="seconds")
        return (f"the state {where} is locked by {holder.describe()}, which is no longer running (it stopped "
                f"without releasing the state); its lease runs out in {max(0, math.ceil(ends_in))} s (at {until}), "
                f"then any command takes it over: run this one again then")
    if holder.known_dead():  # a file lock dies with its holder: a process it started keeps it
        return (f"the state {where} is locked by a process started by {holder.describe()}, which is no longer "
                f"running; stop that process")
    return f"the state {where} is locked by {holder.describe()}; wait for it to finish or stop it"


class StateLock:
    """Exclusive right to change one state. ``acquire`` fails at once, naming the holder.

    ``taken_over`` is set when the lock file named a holder that no longer holds it
    (a process that died without releasing), so the caller can say so."""

    def __init__(self, state_path: Path):
        self.path = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None
        self.taken_over: LockHolder | None = None

    def acquire(self, command: str) -> "StateLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise self._unusable(exc) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self._unusable(None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeldError(held_message(self.path.with_suffix(''), holder)) from None
        self.taken_over = _read_holder(fd)
        import socket  # only a writer names its host: a reader's plan pays nothing for it

        me = LockHolder(pid=os.getpid(), host=socket.gethostname(), command=command, since=clock.iso_now())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def held(self) -> bool:
        """Whether a live process holds the lock now (a read-only probe: creates nothing)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._unusable(exc) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._unusable(None)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """Who holds the lock now (None when it is free): a read-only probe."""
        if not self.held():
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return _read_holder(fd)
        finally:
            os.close(fd)

    def _unusable(self, exc: OSError | None) -> StateError:
        why = (exc.strerror or str(exc)) if exc is not None else "it is not a regular file (a folder?)"
        return StateError(f"{self.path}: cannot use the state lock file: {why}; remove or fix what is at that "
                          "path (it must be a file reconciler may create and write)")

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "StateLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> LockHolder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return LockHolder(**data) if data else None
    except (ValueError, TypeError, OSError):
        return None
