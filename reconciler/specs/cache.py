"""The on-disk cache of validated spec files, so an unchanged file is not parsed again.

One entry per spec file (named by a hash of its project-relative path, so the cache
never grows beyond the number of spec files) under ``<state dir>/.speccache/``. An
entry holds the key it was made for (a hash of the file bytes and of everything else
that shapes its result) and plain tuples of the videos it produced. Entries are never
trusted blindly: a wrong magic, format, checksum or key, or any decoding failure,
makes the entry a miss. Writes go through ``util/atomic`` (temp file, rename), so a
reader sees a whole entry or none. An unwritable state directory just means no cache;
the spec cache never touches the state DB.

``marshal`` is used because it loads plain tuples/dicts about ten times faster than
pickle or JSON; the checksum guards against torn or corrupted files.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path

MAGIC = b"RSPC"
FORMAT = 2  # 2: a video's request kept as marshal bytes (decoded when read)
CACHE_DIR = ".speccache"
_SUFFIX = ".bin"


class SpecCache:
    """Get/put cached results by (relative path, key); every failure is a quiet miss."""

    def __init__(self, directory: Path, enabled: bool = True):
        self.directory = directory
        self.enabled = enabled

    def _file(self, rel: str) -> Path:
        return self.directory / (hashlib.sha256(rel.encode("utf-8")).hexdigest()[:40] + _SUFFIX)

    def get(self, rel: str, key: str):
        """The payload stored for ``rel`` under exactly ``key``, or None."""
        if not self.enabled:
            return None
        try:
            blob = self._file(rel).read_bytes()
        except OSError:
            return None
        return decode(blob, rel, key)

    def put(self, rel: str, key: str, payload) -> None:
        """Store ``payload`` (plain tuples/dicts/str/int/bool/None) atomically; never raises."""
        if not self.enabled:
            return
        try:
            from reconciler.util import atomic  # only on a miss: a warm run skips tempfile & co

            if not self.directory.is_dir():
                self._create()
            # Not fsynced: an entry torn by a power cut fails its checksum, a quiet miss.
            atomic.atomic_write_bytes(self._file(rel), encode(payload, rel, key), durable=False)
        except (OSError, ValueError):  # read-only project, full disk, unmarshallable value
            self.enabled = False

    def _create(self) -> None:
        """Make the directory, ignored by git from the start (like .pytest_cache)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / ".gitignore").write_text("# the reconciler spec cache: safe to delete\n*\n")

    def prune(self, keep: list[str]) -> None:
        """Delete entries of spec files that no longer exist."""
        if not self.enabled:
            return
        wanted = {self._file(rel).name for rel in keep}
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            if name.endswith(_SUFFIX) and name not in wanted:
                _unlink(self.directory / name)


def encode(payload, rel: str, key: str) -> bytes:
    body = marshal.dumps((FORMAT, rel, key, payload))
    return MAGIC + hashlib.sha256(body).digest() + body


def decode(blob: bytes, rel: str, key: str):
    """The payload of ``blob`` if it is intact and made for (rel, key); else None."""
    if blob[:4] != MAGIC or len(blob) < 36:
        return None
    body = blob[36:]
    if hashlib.sha256(body).digest() != blob[4:36]:
        return None
    try:
        fmt, stored_rel, stored_key, payload = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    if fmt != FORMAT or stored_rel != rel or stored_key != key:
        return None
    return payload


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
