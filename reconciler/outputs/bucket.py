"""Outputs in an S3-compatible bucket (docs/outputs.md): the bucket side of ``outputs/base``.

Why a module of its own: the rules that keep a bucket's outputs honest live here,
over the few calls of ``outputs/s3client.py`` (the only importer of boto3):

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

import hashlib
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, TypeVar

from reconciler.config import Config
from reconciler.errors import OutputsError
from reconciler.model import RecordedVideo, Status
from reconciler.outputs import local, rules
from reconciler.outputs.base import Probe
from reconciler.outputs.s3client import Bucket, plain_url, require_credentials
from reconciler.util import atomic, s3url

CACHE = ".cache"
OBJECT_NAME = re.compile(r"^[0-9a-f]{64}\.(mp4|jpg)$")  # a published video, and its poster beside it
SIDECAR_NAME = re.compile(r"^[0-9a-f]{64}\.(" + "|".join(rules.SIDECARS) + r")$")
T = TypeVar("T")


class BucketOutputs:
    fix = "the bucket"
    unpublished_finding = ("finished render(s) not published in the bucket yet",
                           "Run `reconciler refresh` once the bucket answers: it downloads them, or uploads the "
                           "downloads kept in state/uploads/ (no new download, no new render).")

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
        return self.config.uploads_dir / f"{address}{rules.SUFFIX}"

    def store(self, address: str, path: Path, sha256: str, size: int) -> str:
        key = self.object_key(address, sha256)
        try:
            self.bucket.put_file(key, path, sha256, size)
        except OSError as exc:
            raise OutputsError(f"cannot read the staged download {self.config.rel(path)} "
                               f"({exc.strerror or exc}): fix this machine's disk or permissions") from None
        self._confirm(key, sha256, size, "upload")
        return self.location.object_url(key)

    def adoption_note(self, path: Path) -> str:
        return f"uploading the verified download an earlier run kept in {self.config.rel(path)} (no new download)"

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
                self.bucket.delete(rules.poster_of(key))

    def poster(self, address: str, file: str, video: Path | None = None) -> str:
        """The poster object ``<prefix>/<address>/<sha256>.jpg`` beside the published video,
        made from ``video`` (the staged download) or, without one, from the object read
        back (a render cache hit is a server-side copy). OutputsError, MediaError: said by the caller."""
        from reconciler.media import poster

        key = self.location.key_of(file)
        if key is None:
            raise OutputsError(f"{file} is not an object of {self.location.url}")
        if video is None and self.bucket.head(rules.poster_of(key)) is not None:
            return self.location.object_url(rules.poster_of(key))  # copied from the cache with its video
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
            jpeg = work / f"{key.rpartition('/')[2]}{rules.POSTER_SUFFIX}"
            poster.write_poster(video, jpeg)
            self.bucket.put_bytes(rules.poster_of(key), jpeg.read_bytes(), content_type="image/jpeg")
            jpeg.unlink(missing_ok=True)
        finally:
            if fetched is not None:
                fetched.unlink(missing_ok=True)
        return self.location.object_url(rules.poster_of(key))


    def poster_missing(self, video: RecordedVideo) -> bool:
        """Not looked for (a HEAD per object at every run): a missing poster is only a card of
        the gallery without a picture; ``poster`` makes one whenever a video is published."""
        return False
    def discard(self, path: Path) -> None:
        """A superseded render's staged download: this upload is nobody's output now."""
        path.unlink(missing_ok=True)

    def unpublished(self, address: str) -> str | None:
        if self.download_path(address).is_file():
            return "downloaded, upload to the bucket pending"
        return None

    # -- checks -------------------------------------------------------------------------------

    def check(self, video: RecordedVideo) -> str | None:
        if not video.has_output:
            return None
        key = self.location.key_of(video.output_file)
        if key is None:  # a local file recorded before outputs moved to the bucket
            return None if s3url.is_s3(video.output_file or "") else local.check_output(self.config, video)
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

    def map_checks(self, check: Callable[[RecordedVideo], T], videos: list[RecordedVideo],
                   parallelism: int) -> list[T]:
        """HEADs ``parallelism`` at a time (one shared, thread-safe client)."""
        if len(videos) < 2:
            return [check(v) for v in videos]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="reconciler-check") as pool:
            return list(pool.map(check, videos))

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
        """Objects are trusted as recorded (no network: ``refresh`` HEADs them); files
        recorded locally before outputs moved to the bucket are looked at as before."""
        files = {a: v for a, v in recorded.items() if v.output_file and not s3url.is_s3(v.output_file)}
        if not files:
            return recorded
        seen = local.notice_missing(self.config, files)
        return recorded if seen is files else {**recorded, **seen}

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

    def target(self, address: str) -> str:
        return "its address in the bucket"

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]] | None = None) -> None:
        """Half-done downloads of a killed run, and staged downloads no render needs any
        more: the video is gone, its current render's output is recorded (a kill between
        the record and the tidy-up), or a newer render superseded it. A staged file of a
        current render that is finished and not published is kept: the next poll uploads it."""
        rules.sweep_partials(self.config, self.config.uploads_dir)
        shutil.rmtree(self.config.uploads_dir / ".posters", ignore_errors=True)  # a killed run's poster work files
        top = self.config.uploads_dir
        staged = [p for p in top.rglob(f"*{rules.SUFFIX}") if not p.name.startswith(".")] if top.is_dir() else []
        if not staged or recorded is None:
            return
        videos = recorded()
        for path in staged:
            video = videos.get(path.relative_to(top).as_posix()[:-len(rules.SUFFIX)])
            if video is None or video.status is not Status.FINISHED or video.output_task_id == video.task_id:
                _unlink_up_to(path, top)

    # -- the render cache -------------------------------------------------------------------

    def cache_keep(self, fingerprint: str, file: str) -> None:
        key = self.location.key_of(file)
        if key is not None:
            self.bucket.copy(key, self.cache_key(fingerprint))
            self._copy_poster(key, self.cache_key(fingerprint))

    def _copy_poster(self, video_key: str, to_video_key: str) -> None:
        """The poster beside ``video_key`` copied server-side beside ``to_video_key``, so a
        cache hit publishes one with no byte through this machine; none there: nothing to do."""
        try:
            self.bucket.copy(rules.poster_of(video_key), rules.poster_of(to_video_key))
        except OutputsError:
            pass  # no poster to copy (or refused): ``poster`` makes one from the video

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
        self._copy_poster(self.cache_key(fingerprint), key)
        return self.location.object_url(key)

    def cache_remove(self, fingerprint: str) -> None:
        self.bucket.delete(self.cache_key(fingerprint))
        self.bucket.delete(rules.poster_of(self.cache_key(fingerprint)))

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

    def play(self, file: str) -> tuple[str, bool] | None:
        """The public URL, else a presigned GET valid 7 days (signed here, no network), else
        (no credentials or no boto3 here) the object's plain address; an object of
        another bucket: its plain address. (URL, whether it is a signed link.)"""
        if not s3url.is_s3(file):
            return None
        fallback = plain_url(file)
        public = self.public_url(file)
        if public:
            return public, False
        try:
            signed = self.player_url(file)
        except Exception:  # noqa: BLE001 - no credentials or no boto3 here: the plain address still helps
            return fallback, False
        return (signed, True) if signed else (fallback, False)

    # -- sidecars: small files beside a video ------------------------------------------------

    def publish_sidecar(self, address: str, kind: str, data: bytes) -> str:
        """An object under the video's own folder named by its content
        (``<prefix>/<address>/<sha256>.<kind>``): a new one never overwrites what a player
        has open; the one it replaces is removed with ``remove_sidecars``."""
        key = self.location.key(address, f"{hashlib.sha256(data).hexdigest()}.{kind}")
        self.bucket.put_bytes(key, data, rules.SIDECARS[kind])
        return self.location.object_url(key)

    def remove_sidecars(self, address: str, files: list[str], *, deleting: bool = False) -> list[str]:
        """Only objects ``<prefix>/<address>/<sha256>.<kind>``: never anything else a state row might name.
        ``deleting`` (the video's delete) with ``keep_deleted_outputs``: kept, as its video is."""
        if deleting and self.keep_deleted:
            return []
        removed = []
        for file in files:
            key = self.location.key_of(file)
            if key is None or not key.startswith(self.location.key(address) + "/") \
                    or not SIDECAR_NAME.match(key.rpartition("/")[2]):
                continue
            self.bucket.delete(key)
            removed.append(file)
        return removed

    def local_copy(self, file: str, sha256: str | None, dest: Path) -> Path:
        """The object ``file`` streamed into ``dest`` (a staging copy, made again if torn), its
        sha256 checked. OutputsError when the bucket has no such object, or other bytes."""
        key = self.location.key_of(file)
        body = self.bucket.open_object(key) if key is not None else None
        if body is None:
            raise OutputsError(f"{file} is not in the {self.bucket.where}: run `reconciler refresh`")
        digest = hashlib.sha256()
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic.Replacement(dest, suffix=".part", durable=False) as out:
                while chunk := body.read(1 << 20):
                    digest.update(chunk)
                    out.file.write(chunk)
                if sha256 is not None and digest.hexdigest() != sha256:
                    raise OutputsError(f"{file} in the {self.bucket.where} is not the recorded bytes (sha256 "
                                       "differs): run `reconciler refresh`")
        finally:
            body.close()
        return dest

    def short_name(self, video: RecordedVideo) -> str | None:
        """``s3://bucket/prefix/<address>/<sha256>.mp4`` (under this location, the address
        already in its row) as ``<sha256[:12]>….mp4``; None for any other file."""
        relative = self.location.relative(video.output_file)
        if relative is None or relative.rpartition("/")[0] != video.address:
            return None
        stem, dot, suffix = relative.rpartition("/")[2].partition(".")
        return f"{stem[:12]}…{dot}{suffix}" if len(stem) > 13 else f"{stem}{dot}{suffix}"

    def names_note(self) -> str | None:
        return (f"Outputs: {self.location.url}/ADDRESS/SHA256.mp4 (the sha256 cut to 12 digits above; "
                "`status --json` has each in full).")

    # -- readiness and doctor ---------------------------------------------------------------

    def ready(self) -> None:
        """ConfigError unless the environment holds the bucket's key, secret and a usable
        endpoint (no network, no boto3)."""
        require_credentials(self.location)

    def probes(self, env: Mapping[str, str]) -> list[Probe]:
        from reconciler.outputs import bucket_probe

        return bucket_probe.probes(self.location, env)


def _unlink_up_to(path: Path, top: Path) -> None:
    """Delete ``path`` and the folders it leaves empty below ``top``."""
    path.unlink(missing_ok=True)
    rules.remove_empty_folders(path.parent, top)