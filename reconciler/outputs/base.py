"""The interface of an outputs store: the seam between "a verified download" and "a
published file", which every kind of outputs store implements.

Why a module of its own: apply, refresh, plan, status, doctor, the cache command, the
gallery and ``outputs migrate`` all need the same few verbs about outputs, and they must
not care whether ``outputs:`` is a local folder (``outputs/local.LocalOutputs``) or an
S3-compatible bucket (``outputs/bucket.BucketOutputs``, docs/outputs.md).
``reconciler.outputs.open_outputs`` picks one from the config, in that one place (as
``state/store.py`` picks the state backend). This module imports no implementation.

Every method blocks (files, or bucket calls): the engine calls them through
``asyncio.to_thread``. A local failure raises ``OSError`` or ``errors.OutputsError``:
never a lost output, never a render paid again.

    download_path(address)          where a download is written and verified first
    store(address, path, sha, size) publish that verified file; returns what the state records
    adoption_note(path)             what is said when a download an earlier run left at ``path`` is stored
    published(address, path, previous, file)  after the state recorded ``file``: tidy up
    poster(address, file, video)    the poster of published ``file`` beside it (``video``: its bytes here, if any)
    poster_missing(video)           a published output here that has no poster (recovery makes one)
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
    publish_sidecar(address, kind, data)  a small file beside ``address``'s video (``rules.SIDECARS``:
                                    a poster ``jpg``, captions ``srt``/``vtt``); returns what the state records
    remove_sidecars(address, files) those of ``files`` that are sidecars of ``address``'s video; the ones removed
    local_copy(file, sha256, dest)  a path on this machine holding the published ``file`` (a bucket's
                                    object streamed into ``dest``, its sha256 checked)
    short_name(video) / names_note()  ``status``'s output cell for a name too long for a terminal
                                    (a bucket's ``<address>/<sha256>.mp4``: the sha256 cut), and the
                                    line saying how to read such names; None: shown in full
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

from reconciler.model import RecordedVideo
from reconciler.outputs import render_cache

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

    def poster(self, address: str, file: str, video: Path | None = None) -> str: ...

    def poster_missing(self, video: RecordedVideo) -> bool: ...

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

    def publish_sidecar(self, address: str, kind: str, data: bytes) -> str: ...

    def remove_sidecars(self, address: str, files: list[str]) -> list[str]: ...

    def local_copy(self, file: str, sha256: str | None, dest: Path) -> Path: ...

    def short_name(self, video: RecordedVideo) -> str | None: ...

    def names_note(self) -> str | None: ...

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]]) -> None: ...

    def cache_keep(self, fingerprint: str, file: str) -> None: ...

    def cache_problem(self, entry: dict) -> str | None: ...

    def cache_location(self) -> str: ...

    def cache_unservable(self, entries: list[dict]) -> dict[str, str]: ...

    def cache_publish(self, fingerprint: str, address: str, entry: dict) -> str: ...

    def cache_remove(self, fingerprint: str) -> None: ...

    def public_url(self, file: str | None) -> str | None: ...

    def player_url(self, file: str | None) -> str | None: ...
