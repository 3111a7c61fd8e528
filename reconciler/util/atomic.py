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
from pathlib import Path
from typing import Callable


class Replacement:
    """A temporary file beside ``path`` that replaces it atomically on ``commit()``.

    The one implementation of temp + fsync + rename + fsync dir: whole files
    (``atomic_write_bytes``) and streamed ones (a download, written chunk by chunk into
    ``file``) both go through it. As a context manager it commits when the block ends
    normally and discards the temporary file when it raises. Creating it creates the
    parent directories and the temporary file (an ``OSError`` here means the folder
    is unusable; one from ``commit`` means the write failed: callers word them apart).

    The new file keeps the permissions of the file it replaces; a new file gets
    ``mode`` (default 0o644) rather than the 0o600 of a bare temporary file. A
    ``durable=False`` replacement skips both fsyncs (a cache whose entries carry a
    checksum: a torn one after a power cut is a miss, not a wrong answer)."""

    def __init__(self, path: Path, *, mode: int | None = None, suffix: str = ".tmp", durable: bool = True):
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if mode is None:
            try:
                mode = self.path.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
        self.mode = mode
        fd, self.tmp = _create_temporary(self.path, suffix)
        self.file = os.fdopen(fd, "wb")

    def commit(self) -> None:
        """Make the written bytes the content of ``path`` (or discard them and raise)."""
        try:
            with self.file:
                self.file.flush()
                os.fchmod(self.file.fileno(), self.mode)
                if self.durable:
                    os.fsync(self.file.fileno())
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if self.durable:
            fsync_dir(self.path.parent)

    def discard(self) -> None:
        """Drop the temporary file; ``path`` stays as it was."""
        self.file.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "Replacement":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _create_temporary(path: Path, suffix: str) -> tuple[int, Path]:
    """A new file ``.<name>.<random><suffix>`` beside ``path``, mode 0o600, open for
    writing: ``tempfile.mkstemp``'s rule (exclusive create, a fresh name on a clash)
    without importing ``tempfile`` (and its ``shutil``, ``random``...) into every
    short command that writes one small file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}{suffix}"
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically, creating parent directories
    (permissions and ``durable``: see ``Replacement``)."""
    with Replacement(path, mode=mode, durable=durable) as out:
        out.file.write(data)


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


def copy_file(src: Path, dest: Path, *, verify: Callable[[Path], None] | None = None, suffix: str = ".tmp") -> None:
    """Put a copy of ``src``'s bytes at ``dest`` atomically, as a file of its own (never a
    hard link: changing one file in place must never change the other). Where the
    filesystem offers it the copy is a reflink (``FICLONE``: copy-on-write, no bytes
    copied), else the bytes are copied through ``Replacement``. ``verify(tmp)`` runs on
    the complete copy before it replaces ``dest``; whatever it raises leaves ``dest`` as
    it was (so a caller checks the very bytes it publishes)."""
    with open(src, "rb") as source, Replacement(dest, suffix=suffix) as out:
        if not _clone(source, out.file):
            while chunk := source.read(1 << 20):
                out.file.write(chunk)
        out.file.flush()
        if verify is not None:
            verify(out.tmp)


def _clone(source, target) -> bool:
    """Make ``target`` a copy-on-write clone of ``source`` (Linux ``FICLONE``); False where
    the filesystem or platform cannot (then the caller copies)."""
    try:
        import fcntl

        fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
    except (ImportError, OSError):
        return False
    return True


_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
