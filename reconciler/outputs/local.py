"""Outputs in the project's folder (``outputs/<address>.mp4``, docs/outputs.md): the folder
side of ``outputs/base``.

Why a module of its own: one module per kind of outputs store. A video's file is
``<outputs>/<address>.mp4``; state and manifest record its project-relative path. Only
such a *managed* path is ever deleted, so a state edited by hand cannot make reconciler
remove a file elsewhere. ``check_output`` is how ``refresh`` notices a file that is
gone, was changed (sha256 differs from the one recorded at download) or is not a video
(``util.mp4``); ``notice_missing`` lets ``plan`` and ``apply`` see the same without
hashing (one ``stat`` and a few box headers each). What such a finding means (fetched
again, lost, kept on another machine) is ``outputs/rules``; the cache's files are
``outputs/render_cache``. A download is renamed into place by the provider's atomic
download, so it is published as it completes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, TypeVar

from reconciler.config import Config
from reconciler.model import RecordedVideo, Status
from reconciler.outputs import render_cache, rules
from reconciler.outputs.base import Probe
from reconciler.util import atomic, mp4, s3url

T = TypeVar("T")


class LocalOutputs:
    """Outputs in the project's folder (``outputs/<address>.mp4``): a download is
    renamed into place by the provider's atomic download, so it is already published."""

    fix = "this machine's disk or permissions"
    unpublished_finding = ("finished render(s) not downloaded yet", "Run `reconciler refresh` to download them.")

    def __init__(self, config: Config):
        self.config = config

    def download_path(self, address: str) -> Path:
        return output_path(self.config, address)

    def store(self, address: str, path: Path, sha256: str, size: int) -> str:
        """Publish the verified file at ``path`` as ``outputs/<address>.mp4``. A download is
        there already (the provider's atomic download renamed it into place); a file made
        elsewhere (e.g. a join staged under ``state/``) is moved into place in one rename
        (a copy of its own across file systems), the folder fsynced: the old output stays
        published until then."""
        dest = output_path(self.config, address)
        if path != dest:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(path, dest)
            except OSError:  # another file system
                atomic.copy_file(path, dest)
                path.unlink(missing_ok=True)
            atomic.fsync_dir(dest.parent)
        return relative(self.config, dest)

    def adoption_note(self, path: Path) -> str:
        return "adopting the file an interrupted download left in place"

    def place(self) -> str | None:
        return rules.this_place(self.config)

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None:
        return None  # the same path: a replace's new file was renamed over the old one


    def poster(self, address: str, file: str, video: Path | None = None) -> str:
        """``outputs/<address>.jpg`` from the published file (MediaError, OSError: said by the caller)."""
        from reconciler.media import poster

        dest = self.config.root / rules.poster_of(file)
        poster.write_poster(video or self.config.root / file, dest)
        return relative(self.config, dest)

    def poster_missing(self, video: RecordedVideo) -> bool:
        """A published file of this folder with no poster beside it (one published before posters
        were, or a run killed between its record and its poster): a stat or two."""
        file = video.output_file
        if not (video.has_output and file and not s3url.is_s3(file) and video.output_place in (None, self.place())):
            return False
        return not (self.config.root / rules.poster_of(file)).exists() and (self.config.root / file).is_file()
    def discard(self, path: Path) -> None:
        return None  # in place at the address: the render that superseded it publishes over it

    def check(self, video: RecordedVideo) -> str | None:
        if s3url.is_s3(video.output_file or ""):
            return None  # an object of a bucket this project no longer uses: not checked here
        return check_output(self.config, video)

    def map_checks(self, check: Callable[[RecordedVideo], T], videos: list[RecordedVideo],
                   parallelism: int) -> list[T]:
        return [check(v) for v in videos]  # files of this machine: one by one

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
        return notice_missing(self.config, recorded)

    def remove(self, address: str, recorded_file: str | None) -> list[str]:
        return [recorded_file] if remove_output(self.config, address, recorded_file) else []

    def target(self, address: str) -> str:
        return relative(self.config, output_path(self.config, address))

    def ready(self) -> None:
        return None

    def probes(self, env: Mapping[str, str]) -> list[Probe]:
        return []  # the folder is the state's neighbour: the state check covers it

    def unpublished(self, address: str) -> str | None:
        return None  # a download is published as it completes

    def play(self, file: str) -> tuple[str, bool] | None:
        if s3url.is_s3(file):  # an object of a bucket this project used before
            from reconciler.outputs.s3client import plain_url

            return plain_url(file), False
        return None

    def publish_sidecar(self, address: str, kind: str, data: bytes) -> str:
        """``outputs/<address>.<kind>``, written atomically."""
        path = sidecar_path(self.config, address, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.atomic_write_bytes(path, data)
        return relative(self.config, path)

    def remove_sidecars(self, address: str, files: list[str]) -> list[str]:
        """Only ``outputs/<address>.<kind>`` files: never anything else a state row might name."""
        removed = []
        for file in files:
            path = Path(os.path.normpath(self.config.root / file))
            kind = path.suffix[1:]
            if kind in rules.SIDECARS and path == Path(os.path.normpath(sidecar_path(self.config, address, kind))) \
                    and path.is_file():
                path.unlink()
                removed.append(file)
        return removed

    def local_copy(self, file: str, sha256: str | None, dest: Path) -> Path:
        return Path(os.path.normpath(self.config.root / file))  # the published file itself

    def short_name(self, video: RecordedVideo) -> str | None:
        return None  # ``outputs/<address>.mp4``: shown as it is

    def names_note(self) -> str | None:
        return None

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]] | None = None) -> None:
        rules.sweep_partials(self.config)
        render_cache.unshare(self.config)  # entries hard-linked by an older version get their own copy

    def cache_keep(self, fingerprint: str, file: str) -> None:
        render_cache.keep(self.config, fingerprint, self.config.root / file)

    def cache_problem(self, entry: dict) -> str | None:
        return render_cache.problem(self.config, entry)

    def cache_location(self) -> str:
        return render_cache.place(self.config)

    def cache_unservable(self, entries: list[dict]) -> dict[str, str]:
        return render_cache.unservable(self.config, entries)

    def cache_publish(self, fingerprint: str, address: str, entry: dict) -> str:
        dest = output_path(self.config, address)
        render_cache.publish(self.config, entry, dest)
        return relative(self.config, dest)

    def cache_remove(self, fingerprint: str) -> None:
        render_cache.remove(self.config, fingerprint)

    def public_url(self, file: str | None) -> str | None:
        return None

    def player_url(self, file: str | None) -> str | None:
        return None


def output_path(config: Config, address: str) -> Path:
    """Where the output of ``address`` lives (absolute)."""
    return config.outputs_dir / f"{address}{rules.SUFFIX}"


def sidecar_path(config: Config, address: str, kind: str) -> Path:
    """Where a sidecar of ``address``'s video lives: beside it, ``<outputs>/<address>.<kind>``."""
    return config.outputs_dir / f"{address}.{kind}"


def relative(config: Config, path: Path) -> str:
    """The project-relative posix path recorded in state and manifest."""
    return config.rel(path)


def check_output(config: Config, video: RecordedVideo) -> str | None:
    """Why the published output of ``video`` is damaged (missing, changed, not a video),
    or None if intact. A file that exists but cannot be read (a permission) raises
    OSError: a problem of this machine to fix, not a damaged output."""
    if not video.has_output:
        return None
    path = config.root / video.output_file
    try:
        actual = rules.sha256_of(path)
    except (FileNotFoundError, NotADirectoryError):
        return f"{video.output_file} is missing"
    if actual != video.output_sha256:
        return f"{video.output_file} was changed (sha256 {actual[:12]}…, recorded {(video.output_sha256 or '')[:12]}…)"
    return _not_a_video(config, video)


def _not_a_video(config: Config, video: RecordedVideo) -> str | None:
    why = mp4.problem(config.root / video.output_file)  # OSError: for the caller
    return None if why is None else f"{video.output_file} is not a video ({why})"


def notice_missing(config: Config, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
    """``recorded`` with every finished video whose published file is gone, has another
    size than recorded or is not a video, in memory only: read as "not downloaded"
    where the vendor can give it again (``fetch_again``: apply downloads it, no render),
    else marked lost (``plan`` and ``apply`` propose to render it again without a
    ``refresh`` first: docs/specs.md, "its output is lost"). One ``stat`` and a few box
    headers per file; hashing every output stays with ``refresh`` (``check_output``).
    A video whose newer render is still running or not yet downloaded is left alone."""
    out = recorded
    for address, video in recorded.items():
        if not video.has_output or video.status is not Status.FINISHED or video.output_task_id != video.task_id:
            continue
        try:
            size = (config.root / video.output_file).stat().st_size
            if video.output_bytes is not None and size != video.output_bytes:
                why = f"{video.output_file} has {size} bytes, recorded {video.output_bytes}"
            else:
                why = _not_a_video(config, video)
                if why is None:
                    continue
        except (FileNotFoundError, NotADirectoryError):
            why = f"{video.output_file} is missing"
            if not rules.fetch_again(video) and rules.kept_elsewhere(config, video):
                continue  # downloaded by another checkout of a shared state: published there, not lost
        except OSError:
            continue  # unreadable here (a permission): a local problem, not a loss; refresh says so
        if out is recorded:
            out = dict(recorded)
        out[address] = (rules.as_not_downloaded(video, why) if rules.fetch_again(video)
                        else dataclasses.replace(video, output_lost=True, error=f"output lost: {why}"))
    return out


def remove_output(config: Config, address: str, recorded_file: str | None) -> bool:
    """Delete the managed output file of ``address`` (if the state points at it) and the
    directories it leaves empty under ``outputs/``. True if a file was removed."""
    managed = output_path(config, address)
    managed.with_suffix(rules.POSTER_SUFFIX).unlink(missing_ok=True)  # its poster goes with it (always one we made)
    if not recorded_file:
        rules.remove_empty_folders(managed.resolve().parent, config.outputs_dir.resolve())
        return False
    if (config.root / recorded_file).resolve() != managed.resolve():
        return False  # not ours to delete
    try:
        managed.unlink()
    except FileNotFoundError:
        return False
    rules.remove_empty_folders(managed.resolve().parent, config.outputs_dir.resolve())
    return True
