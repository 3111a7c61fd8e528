"""Copying outputs to another outputs location, verified (``reconciler outputs migrate``).

Why a module of its own: the copy rules are few and must hold whatever the two places
are (a folder to a bucket, back, a folder to another folder, a bucket to another):

- a place is a location string (``outputs``, ``/srv/videos``, ``s3://bucket/prefix``);
  a *ref* is a file under one, as the state records it (``outputs/a.mp4``,
  ``s3://bucket/prefix/a/<sha256>.mp4``), the render cache's ``<place>/.cache/<fp>.mp4``;
- a copy is read from the source ref while its sha256 and size are computed; bytes that
  are not the recorded ones are never written to the target (the source is damaged: the
  caller says so); a target file is replaced whole (a temporary file renamed) and never
  shares an inode with its source (docs/cache.md), an object is one PUT with Content-MD5,
  confirmed by a HEAD;
- a target ref that already holds the recorded bytes (a folder's file hashed, an
  object's size and sha256 metadata) is skipped: a migrate interrupted half-way
  completes on its next run, and a damaged copy is copied again;
- the target's *marker* (``<place>/.reconciler-outputs.json``) names the state whose
  outputs it holds; a target holding another state's outputs is refused.
Nothing here is rendered or asked of a vendor; the source is only read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from reconciler.config import Config
from reconciler.errors import OutputsError
from reconciler.outputs import rules
from reconciler.util import atomic, s3url
from reconciler.util.crashpoint import crash_point

MARKER = ".reconciler-outputs.json"
CHUNK = 1 << 20


class SourceDamaged(Exception):
    """The source ref is missing or its bytes are not the recorded ones (``str``: why)."""


class Places:
    """Reads and writes refs of any place, folder or bucket (one S3 client per bucket)."""

    def __init__(self, config: Config):
        self.config = config
        self._buckets: dict[str, object] = {}
        self.staging = config.state_dir / "migrate"  # a bucket's copy is staged here, then PUT

    def tidy(self) -> None:
        """Drop what a killed run left staged (call under the writer lock)."""
        if self.staging.is_dir():
            for leftover in self.staging.glob(".*.part"):
                leftover.unlink(missing_ok=True)

    # -- refs ----------------------------------------------------------------------------------

    @staticmethod
    def output_ref(place: str, address: str, sha256: str) -> str:
        """Where the output of ``address`` goes in ``place`` (docs/config.md and docs/outputs.md)."""
        return f"{place}/{address}/{sha256}.mp4" if s3url.is_s3(place) else f"{place}/{address}.mp4"

    @staticmethod
    def cache_ref(place: str, fingerprint: str) -> str:
        return f"{place}/.cache/{fingerprint}.mp4"

    @staticmethod
    def in_folder(ref: str) -> bool:
        """Whether ``ref`` (a place, or a file under one) is a folder's, not a bucket's."""
        return not s3url.is_s3(ref)

    def _bucket(self, ref: str):
        from reconciler.outputs.s3client import Bucket

        name, key = s3url.split_object(ref)
        if name not in self._buckets:
            self._buckets[name] = Bucket(s3url.Location(name), parallelism=self.config.parallelism)
        return self._buckets[name], key

    def _path(self, ref: str) -> Path:
        return self.config.root / ref

    # -- the verbs -------------------------------------------------------------------------------

    def holds(self, ref: str, sha256: str, size: int) -> bool:
        """Whether ``ref`` holds exactly these bytes (a file hashed; an object's HEAD)."""
        if s3url.is_s3(ref):
            bucket, key = self._bucket(ref)
            return bucket.head(key) == (size, sha256)
        path = self._path(ref)
        try:
            if path.stat().st_size != size:
                return False
            return _sha256(path) == sha256
        except OSError:
            return False

    def copy(self, source: str, target: str, sha256: str, size: int) -> None:
        """Copy ``source`` to ``target``, verified (SourceDamaged: the source is not the
        recorded bytes; OSError/OutputsError: the copy failed and can be run again)."""
        if s3url.is_s3(target):
            staging = self.staging / f".{sha256}.{os.getpid()}.part"
            staging.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(staging, "wb") as out:
                    self._read_into(source, out, sha256, size)
                bucket, key = self._bucket(target)
                bucket.put_file(key, staging, sha256, size)
            finally:
                staging.unlink(missing_ok=True)
        else:
            with atomic.Replacement(self._path(target), suffix=".part") as out:
                self._read_into(source, out.file, sha256, size)
        if not self.holds(target, sha256, size):
            raise OutputsError(f"after copying {source} to {target}, the copy is not the recorded bytes "
                               f"(sha256 {sha256[:12]}…, {size} bytes); run the command again")
        crash_point("after_migrate_copy")

    def copy_poster(self, source: str, target: str) -> bool:
        """Copy the poster beside the video ``source`` to beside ``target`` (docs/outputs.md).
        A poster is a picture of the video, not recorded bytes: copied as found, False
        when the source has none (OSError/OutputsError: the copy failed)."""
        src, dst = rules.poster_of(source), rules.poster_of(target)
        if s3url.is_s3(src):
            bucket, key = self._bucket(src)
            body = bucket.open_object(key)
            data = body.read() if body is not None else None
        else:
            try:
                data = self._path(src).read_bytes()
            except FileNotFoundError:
                data = None
        if not data:
            return False
        if s3url.is_s3(dst):
            bucket, key = self._bucket(dst)
            bucket.put_bytes(key, data, content_type="image/jpeg")
        else:
            atomic.atomic_write_bytes(self._path(dst), data)
        return True

    def _read_into(self, source: str, out, sha256: str, size: int) -> None:
        digest, count = hashlib.sha256(), 0
        if s3url.is_s3(source):
            bucket, key = self._bucket(source)
            stream = bucket.open_object(key)
            if stream is None:
                raise SourceDamaged(f"{source} is missing")
        else:
            try:
                stream = open(self._path(source), "rb")
            except (FileNotFoundError, NotADirectoryError):
                raise SourceDamaged(f"{source} is missing") from None
        try:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                count += len(chunk)
                out.write(chunk)
        finally:
            stream.close()
        if count != size or digest.hexdigest() != sha256:
            raise SourceDamaged(f"{source} is not the recorded output ({count} bytes, sha256 "
                                f"{digest.hexdigest()[:12]}…; recorded {size} bytes, {sha256[:12]}…)")

    # -- the target's marker ---------------------------------------------------------------------

    def marker(self, place: str) -> dict | None:
        """The marker of ``place`` ({"state": id, ...}), or None when it has none."""
        ref = f"{place}/{MARKER}"
        try:
            if s3url.is_s3(place):
                bucket, key = self._bucket(ref)
                stream = bucket.open_object(key)
                if stream is None:
                    return None
                try:
                    data = stream.read()
                finally:
                    stream.close()
            else:
                data = self._path(ref).read_bytes()
            found = json.loads(data)
        except FileNotFoundError:
            return None
        except ValueError:
            return {"state": "(unreadable marker)"}
        return found if isinstance(found, dict) else {"state": "(unreadable marker)"}

    def write_marker(self, place: str, content: dict) -> None:
        data = (json.dumps(content, sort_keys=True, indent=2) + "\n").encode()
        ref = f"{place}/{MARKER}"
        if s3url.is_s3(place):
            bucket, key = self._bucket(ref)
            bucket.put_bytes(key, data)
        else:
            atomic.atomic_write_bytes(self._path(ref), data)

    def holds_anything(self, place: str) -> bool:
        """Whether ``place`` holds any file or object (the marker aside)."""
        if s3url.is_s3(place):
            bucket, key = self._bucket(place + "/")
            return any(k.rpartition("/")[2] != MARKER for k in bucket.some_under(key))
        folder = self._path(place)
        return folder.is_dir() and any(p.is_file() and p.name != MARKER for p in folder.rglob("*"))


def _sha256(path: Path) -> str:
    from reconciler.outputs.rules import sha256_of

    return sha256_of(path)
