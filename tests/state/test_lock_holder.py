"""Who holds a state, as the refused writer is told: a holder that died on this host is
called dead, never "wait for it to finish" (the PostgreSQL lease's case, with when the
lease runs out, is end to end in ``tests/e2e/test_migrate_killed.py``)."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys

import pytest

from reconciler.errors import LockHeldError
from reconciler.state.lock import LockHolder, StateLock


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_pid_of_this_host_that_no_longer_runs_is_known_dead_and_nothing_else_is():
    here = socket.gethostname()
    assert LockHolder(_dead_pid(), here, "apply", "t").known_dead()
    assert not LockHolder(os.getpid(), here, "apply", "t").known_dead()
    assert not LockHolder(_dead_pid(), here + "-elsewhere", "apply", "t").known_dead()  # another host: unknown


def test_a_file_lock_kept_by_a_child_of_a_dead_holder_is_said_so(tmp_path):
    state = tmp_path / "reconciler.db"
    dead = LockHolder(_dead_pid(), socket.gethostname(), "apply", "2026-12-07T00:00:00+00:00")
    lock_file = state.with_name("reconciler.db.lock")
    lock_file.write_text(json.dumps(dead.__dict__))
    fd = os.open(lock_file, os.O_RDWR)  # what a process it started, still running, keeps
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(LockHeldError) as refused:
            StateLock(state).acquire("apply")
    finally:
        os.close(fd)
    message = str(refused.value)
    assert f"pid {dead.pid}" in message and "no longer running" in message
    assert "wait for it to finish" not in message
