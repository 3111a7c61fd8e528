"""Where published outputs live: the seam between "a verified download" and "a
published file", with one implementation per kind of outputs store.

Why a module of its own: apply, refresh, plan, status, doctor, the cache command and
the gallery all need the same few verbs about outputs, and they must not care whether
``outputs:`` is a local folder (``LocalOutputs``: ``outputs/rules.py`` and
``outputs/render_cache.py``, today's behaviour unchanged) or an S3-compatible bucket
(``outputs/bucket.BucketOutputs``, docs/outputs.md). ``open_outputs`` picks one from
the config, in this one place (as ``state/store.py`` picks the state backend).

Every method blocks (files, or bucket calls): the engine calls them through
``asyncio.to_thread``. A local failure raises ``OSError`` or ``errors.OutputsError``:
never a lost output, never a render paid again.

    download_path(address)          where a download is written and verified first
    store(address, path, sha, size) publish that verified file; returns what the state records
    adoption_note(path)             what is said when a download an earlier run left at ``path`` is stored
    published(address, path, previous, file)  after the state recorded ``file``: tidy up
    discard(path)                   the verified download of a render superseded meanwhile: not stored
    check(video) / notice_missing(recorded)   refresh's check / plan's look (no network)
    map_checks(check, videos, parallelism)    ``check`` run over ``videos`` the way this store's checks
                                    are best run (a bucket's HEADs overlap, a folder's files one by one)
    remove(address, file)           a delete
    target(address) / fix           where an output is put, and what a person fixes when that fails
    ready()                         ConfigError when outputs cannot be published from here (no
                                    credentials): asked before any paid call, no network
    probes(env)                     ``doctor``'s checks of the store (``Probe``), beyond the location
    unpublished(address)            why a finished render's output is not published yet, if the
                                    store holds it half-way (a download staged, not uploaded)
    unpublished_finding             what ``doctor`` says of finished renders not published, and the fix
    play(file)                      (URL, signed) of a recorded output a player reaches by URL, or None
    sweep(recorded)                 half-done downloads of a killed run (and staged ones no render needs)
    cache_keep / cache_problem / cache_publish / cache_remove   the render cache's bytes
    cache_location() / cache_unservable(entries)   where entries kept here are recorded as being,
                                    and the plan's cheap look at the entries it would count free
    public_url(file) / player_url(file)       what a player can use
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TypeVar

from reconciler.config import Config
from reconciler.model import RecordedVideo
from reconciler.outputs import render_cache, rules
from reconciler.util import s3url

CacheDamaged = render_cache.Damaged  # what ``cache_publish`` raises when the entry's bytes are not the recorded ones
T = TypeVar("T")


@dataclass(frozen=True)
class Probe:
    """One ``doctor`` check of an outputs store: ``ok`` False is an error, ``fix`` the next step."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


class OutputsStore(Protocol):
    fix: str  # what a person fixes when putting an output there fails ("this machine's disk or permissions")
    unpublished_finding: tuple[str, str]  # doctor: (what finished renders not published are, the next step)

    def download_path(self, address: str) -> Path: ...

    def store(self, address: str, path: Path, sha256: str, size: int) -> str: ...

    def adoption_note(self, path: Path) -> str: ...

    def place(self) -> str | None: ...

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None: ...

    def discard(self, path: Path) -> None: ...

    def check(self, video: RecordedVideo) -> str | None: ...

    def map_checks(self, check: Callable[[RecordedVideo], T], videos: list[RecordedVideo],
                   parallelism: int) -> list[T]: ...

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]: ...

    def remove(self, address: str, recorded_file: str | None) -> list[str]: ...

    def target(self, address: str) -> str: ...

    def ready(self) -> None: ...

    def probes(self, env: Mapping[str, str]) -> list[Probe]: ...

    def unpublished(self, address: str) -> str | None: ...

    def play(self, file: str) -> tuple[str, bool] | None: ...

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]]) -> None: ...

    def cache_keep(self, fingerprint: str, file: str) -> None: ...

    def cache_problem(self, entry: dict) -> str | None: ...

    def cache_location(self) -> str: ...

    def cache_unservable(self, entries: list[dict]) -> dict[str, str]: ...

    def cache_publish(self, fingerprint: str, address: str, entry: dict) -> str: ...

    def cache_remove(self, fingerprint: str) -> None: ...

    def public_url(self, file: str | None) -> str | None: ...

    def player_url(self, file: str | None) -> str | None: ...


class LocalOutputs:
    """Outputs in the project's folder (``outputs/<address>.mp4``): a download is
    renamed into place by the provider's atomic download, so it is already published."""

    fix = "this machine's disk or permissions"
    unpublished_finding = ("finished render(s) not downloaded yet", "Run `reconciler refresh` to download them.")

    def __init__(self, config: Config):
        self.config = config

    def download_path(self, address: str) -> Path:
        return rules.output_path(self.config, address)

    def store(self, address: str, path: Path, sha256: str, size: int) -> str:
        return rules.relative(self.config, path)  # renamed into place by the download: published already

    def adoption_note(self, path: Path) -> str:
        return "adopting the file an interrupted download left in place"

    def place(self) -> str | None:
        return rules.this_place(self.config)

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None:
        return None  # the same path: a replace's new file was renamed over the old one

    def discard(self, path: Path) -> None:
        return None  # in place at the address: the render that superseded it publishes over it

    def check(self, video: RecordedVideo) -> str | None:
        if s3url.is_s3(video.output_file or ""):
            return None  # an object of a bucket this project no longer uses: not checked here
        return rules.check_output(self.config, video)

    def map_checks(self, check: Callable[[RecordedVideo], T], videos: list[RecordedVideo],
                   parallelism: int) -> list[T]:
        return [check(v) for v in videos]  # files of this machine: one by one

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
        return rules.notice_missing(self.config, recorded)

    def remove(self, address: str, recorded_file: str | None) -> list[str]:
        return [recorded_file] if rules.remove_output(self.config, address, recorded_file) else []

    def target(self, address: str) -> str:
        return rules.relative(self.config, rules.output_path(self.config, address))

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
        dest = rules.output_path(self.config, address)
        render_cache.publish(self.config, entry, dest)
        return rules.relative(self.config, dest)

    def cache_remove(self, fingerprint: str) -> None:
        render_cache.remove(self.config, fingerprint)

    def public_url(self, file: str | None) -> str | None:
        return None

    def player_url(self, file: str | None) -> str | None:
        return None


def open_outputs(config: Config, parallelism: int | None = None) -> OutputsStore:
    """The outputs store ``config`` names. Opening one makes no network call and
    imports no S3 library (that happens at a bucket's first call)."""
    if config.outputs_location is None:
        return LocalOutputs(config)
    from reconciler.outputs.bucket import BucketOutputs

    return BucketOutputs(config, parallelism=parallelism or config.parallelism)
