"""Atomic file writes: a reader sees the old bytes or the new bytes, never a mix.

The manifest is committed to git and read by other tools while apply or watch may be
rewriting it; saved plans and downloaded videos must not be left half-written by a
crash. So every write goes to a temporary file in the *same directory* (``os.replace``
is atomic only within one filesystem), is fsynced, renamed over the target, and the
directory is fsynced so the rename itself survives a power cut. A failed write
removes its temporary file and leaves the target as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically, creating parent directories.

    The new file keeps the permissions of the file it replaces; a new file gets
    ``mode`` (default 0o644) rather than the 0o600 of a bare temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8", mode: int | None = None) -> None:
    """``atomic_write_bytes`` of ``text`` encoded (UTF-8 by default, no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding), mode=mode)


def fsync_dir(directory: Path) -> None:
    """Make a rename or create inside ``directory`` durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
