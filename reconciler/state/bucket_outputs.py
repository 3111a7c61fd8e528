"""Outputs in an S3-compatible bucket (docs/outputs.md): the bucket side of ``outputs_store``.

Why a module of its own: the rules that keep a bucket's outputs honest live here,
over the few calls of ``state/bucket.py`` (the only importer of boto3):

- A download is written to a staging file, ``state/uploads/<address>.mp4``, by the
  provider's atomic verified download (MP4, length, sha256), exactly as a local
  output; ``store`` then PUTs it under ``<prefix>/<address>/<sha256>.mp4`` (Content-MD5,
  sha256 metadata) and confirms it with a HEAD (size and sha256) before anything is
  recorded. Only then does the state publish the ``s3://`` URL, and ``published``
  deletes the staging file. A PUT is atomic (no half object is ever visible) and the
  same bytes go to the same key, so an upload repeated after a crash is harmless.
- An upload that fails is an ``OutputsError``: the staged file stays, the render stays
  "finished, not published", and the next run adopts the staged file
  (``follow._adopt``) and uploads it: no second GET (a Unisound link serves once), no
  second render.
- A replace keeps the old object until the new one is recorded, then ``published``
  removes it (same sha256: same key, nothing to remove); a delete removes the objects
  directly under ``<prefix>/<address>/``. ``keep_deleted_outputs: true`` keeps both.
- ``check`` (refresh) is a HEAD per object, never a download; ``notice_missing``
  (plan, apply) trusts the state: no network in a plan.
- The render cache is ``<prefix>/.cache/<fingerprint>.mp4``: kept and served with
  server-side copies, no byte through this machine.
- ``public_url``: ``outputs_public_url`` + ``/<address>/<sha256>.mp4`` (the manifest's
  ``url``); ``player_url``: that, else a presigned GET valid 7 days (no network).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from reconciler.config import Config
from reconciler.errors import OutputsError
from reconciler.model import RecordedVideo, Status
from reconciler.state import outputs
from reconciler.state.bucket import Bucket
from reconciler.util import s3url

CACHE = ".cache"
OBJECT_NAME = re.compile(r"^[0-9a-f]{64}\.(mp4|jpg)$")  # a published video, and its poster beside it


class BucketOutputs:
    remote = True

    def __init__(self, config: Config, *, parallelism: int = 8, bucket: Bucket | None = None):
        self.config = config
        self.location: s3url.Location = config.outputs_location
        self.bucket = bucket if bucket is not None else Bucket(self.location, parallelism=parallelism)
        self.keep_deleted = config.file.keep_deleted_outputs
        self.public_base = config.file.outputs_public_url

    # -- keys ------------------------------------------------------------------------------

    def object_key(self, address: str, sha256: str) -> str:
        return self.location.key(address, f"{sha256}.mp4")

    def cache_key(self, fingerprint: str) -> str:
        return self.location.key(CACHE, f"{fingerprint}.mp4")

    # -- publishing a download ------------------------------------------------------------

    def download_path(self, address: str) -> Path:
        return self.config.uploads_dir / f"{address}{outputs.SUFFIX}"

    def store(self, address: str, path: Path, sha256: str, size: int) -> str:
        key = self.object_key(address, sha256)
        try:
            self.bucket.put_file(key, path, sha256, size)
        except OSError as exc:
            raise OutputsError(f"cannot read the staged download {self.config.rel(path)} "
                               f"({exc.strerror or exc}): fix this machine's disk or permissions") from None
        self._confirm(key, sha256, size, "upload")
        return self.location.object_url(key)

    def _confirm(self, key: str, sha256: str, size: int, what: str) -> None:
        found = self.bucket.head(key)
        if found != (size, sha256):
            has = "no such object" if found is None else f"{found[0]} bytes, sha256 metadata {found[1]}"
            raise OutputsError(f"after the {what}, the {self.bucket.where} does not hold {key} with {size} bytes "
                               f"and sha256 {sha256[:12]}… ({has}); try again later")

    def place(self) -> str | None:
        return None  # every checkout sees the same bucket: no output is "kept on another machine"

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None:
        """The state now records ``file``: drop the staging file, then the replaced object
        (OutputsError: the caller says so; the new output is published either way)."""
        if path.is_relative_to(self.config.uploads_dir):
            _unlink_up_to(path, self.config.uploads_dir)
        if previous and previous != file and not self.keep_deleted:
            key = self.location.key_of(previous)
            if key is not None and key.startswith(self.location.key(address) + "/"):
                self.bucket.delete(key)
                self.bucket.delete(outputs.poster_of(key))

    def poster(self, address: str, file: str, video: Path | None = None) -> str:
        """The poster object ``<prefix>/<address>/<sha256>.jpg`` beside the published video,
        made from ``video`` (the staged download) or, without one, from the object read
        back (a render cache hit is a server-side copy). OutputsError, MediaError: said by the caller."""
        from reconciler.media import poster

        key = self.location.key_of(file)
        if key is None:
            raise OutputsError(f"{file} is not an object of {self.location.url}")
        work = self.config.uploads_dir / ".posters"
        work.mkdir(parents=True, exist_ok=True)
        fetched = None
        try:
            if video is None:
                fetched = video = work / f"{key.rpartition('/')[2]}"
                body = self.bucket.open_object(key)
                if body is None:
                    raise OutputsError(f"{file} is missing")
                with open(fetched, "wb") as out:
                    while chunk := body.read(1 << 20):
                        out.write(chunk)
            jpeg = work / f"{key.rpartition('/')[2]}{outputs.POSTER_SUFFIX}"
            poster.write_poster(video, jpeg)
            self.bucket.put_bytes(outputs.poster_of(key), jpeg.read_bytes(), content_type="image/jpeg")
            jpeg.unlink(missing_ok=True)
        finally:
            if fetched is not None:
                fetched.unlink(missing_ok=True)
        return self.location.object_url(outputs.poster_of(key))

    # -- checks -------------------------------------------------------------------------------

    def check(self, video: RecordedVideo) -> str | None:
        if not video.has_output:
            return None
        key = self.location.key_of(video.output_file)
        if key is None:  # a local file recorded before outputs moved to the bucket
            return None if s3url.is_s3(video.output_file or "") else outputs.check_output(self.config, video)
        found = self.bucket.head(key)
        if found is None:
            return f"{video.output_file} is missing"
        size, sha256 = found
        if video.output_bytes is not None and size != video.output_bytes:
            return f"{video.output_file} has {size} bytes, recorded {video.output_bytes}"
        if sha256 != video.output_sha256:
            return (f"{video.output_file} was changed (sha256 metadata {(sha256 or 'none')[:12]}…, "
                    f"recorded {(video.output_sha256 or '')[:12]}…)")
        return None

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
        """Objects are trusted as recorded (no network: ``refresh`` HEADs them); files
        recorded locally before outputs moved to the bucket are looked at as before."""
        local = {a: v for a, v in recorded.items() if v.output_file and not s3url.is_s3(v.output_file)}
        if not local:
            return recorded
        seen = outputs.notice_missing(self.config, local)
        return recorded if seen is local else {**recorded, **seen}

    # -- removal ------------------------------------------------------------------------------

    def remove(self, address: str, recorded_file: str | None) -> list[str]:
        """A delete: the staged download if any, and (unless ``keep_deleted_outputs``) the
        objects directly under ``<prefix>/<address>/``. Returns the URLs removed."""
        staged = self.download_path(address)
        if staged.is_file():
            _unlink_up_to(staged, self.config.uploads_dir)
        if self.keep_deleted:
            return []
        if address.split("/")[0] == CACHE:  # never list the render cache's own folder
            keys = [k for k in (self.location.key_of(recorded_file),) if k]
        else:
            keys = [k for k in self.bucket.children(self.location.key(address))
                    if OBJECT_NAME.match(k.rpartition("/")[2])]
        for key in keys:
            self.bucket.delete(key)
        return [self.location.object_url(k) for k in keys]

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]] | None = None) -> None:
        """Half-done downloads of a killed run, and staged downloads no render needs any
        more: the video is gone, its current render's output is recorded (a kill between
        the record and the tidy-up), or a newer render superseded it. A staged file of a
        current render that is finished and not published is kept: the next poll uploads it."""
        outputs.sweep_partials(self.config, self.config.uploads_dir)
        top = self.config.uploads_dir
        staged = [p for p in top.rglob(f"*{outputs.SUFFIX}") if not p.name.startswith(".")] if top.is_dir() else []
        if not staged or recorded is None:
            return
        videos = recorded()
        for path in staged:
            video = videos.get(path.relative_to(top).as_posix()[:-len(outputs.SUFFIX)])
            if video is None or video.status is not Status.FINISHED or video.output_task_id == video.task_id:
                _unlink_up_to(path, top)

    # -- the render cache -------------------------------------------------------------------

    def cache_keep(self, fingerprint: str, file: str) -> None:
        key = self.location.key_of(file)
        if key is not None:
            self.bucket.copy(key, self.cache_key(fingerprint))

    def cache_problem(self, entry: dict) -> str | None:
        found = self.bucket.head(self.cache_key(entry["fingerprint"]))
        if found is None:
            return "cached object is missing"
        size, sha256 = found
        if size != entry["bytes"]:
            return f"cached object has {size} bytes, recorded {entry['bytes']}"
        if sha256 != entry["sha256"]:
            return "cached object's sha256 metadata differs from the one recorded"
        return None

    def cache_location(self) -> str:
        return self.location.url

    def cache_unservable(self, entries: list[dict]) -> dict[str, str]:
        """Entries recorded in another outputs location (no network: ``cache_problem``
        HEADs each one at apply)."""
        here = self.location.url
        return {e["fingerprint"]: f"its bytes are kept at {e['location']}, not in {here}"
                for e in entries if e.get("location") not in (None, here)}

    def cache_publish(self, fingerprint: str, address: str, entry: dict) -> str:
        key = self.object_key(address, entry["sha256"])
        self.bucket.copy(self.cache_key(fingerprint), key)
        self._confirm(key, entry["sha256"], entry["bytes"], "copy from the render cache")
        return self.location.object_url(key)

    def cache_remove(self, fingerprint: str) -> None:
        self.bucket.delete(self.cache_key(fingerprint))

    # -- what a player uses -----------------------------------------------------------------

    def public_url(self, file: str | None) -> str | None:
        below = self.location.relative(file)
        return f"{self.public_base}/{below}" if self.public_base and below else None

    def player_url(self, file: str | None) -> str | None:
        """The public URL, else a presigned GET valid 7 days (ConfigError: no credentials)."""
        key = self.location.key_of(file)
        if key is None:
            return None
        return self.public_url(file) or self.bucket.presigned_get(key)


def _unlink_up_to(path: Path, top: Path) -> None:
    """Delete ``path`` and the folders it leaves empty below ``top``."""
    path.unlink(missing_ok=True)
    outputs.remove_empty_folders(path.parent, top)