"""Reading a user's input file without ever blocking on something that is not a file.

Why a module of its own: ``Path.read_bytes`` on a FIFO named ``specs/a.yaml`` waits
for a writer forever, so ``validate`` hangs; on a directory it fails with a bare
``IsADirectoryError``. Every input file of a project (reconciler.yaml, vars files,
spec files) is read here: opened non-blocking, checked with ``fstat`` on the very
descriptor that is read (no window between a check and the open), and refused with
``NotRegularFile`` when it is a FIFO, socket, device or folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFile(OSError):
    """The path exists but is not a regular file; ``kind`` says what it is."""

    def __init__(self, path: Path, kind: str):
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str | None:
    """What a non-regular ``st_mode`` is ("a FIFO (named pipe)"...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed). Never blocks on a
    FIFO. Raises FileNotFoundError, NotRegularFile or another OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(Path(path), kind)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def why(exc: OSError) -> str:
    """A short reason for a user: "a FIFO (named pipe), not a regular file", "Permission denied"."""
    if isinstance(exc, NotRegularFile):
        return f"it is {exc.kind}, not a regular file"
    return exc.strerror or str(exc)
