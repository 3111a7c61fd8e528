"""Where published outputs live: the seam between "a verified download" and "a
published file", with one implementation per kind of outputs store.

Why a module of its own: apply, refresh, plan, status, doctor, the cache command and
the gallery all need the same few verbs about outputs, and they must not care whether
``outputs:`` is a local folder (``LocalOutputs``: ``state/outputs.py`` and
``state/render_cache.py``, today's behaviour unchanged) or an S3-compatible bucket
(``state/bucket_outputs.BucketOutputs``, docs/outputs.md). ``open_outputs`` picks one from
the config, in this one place (as ``state/store.py`` picks the state backend).

Every method blocks (files, or bucket calls): the engine calls them through
``asyncio.to_thread``. A local failure raises ``OSError`` or ``errors.OutputsError``:
never a lost output, never a render paid again.

    download_path(address)          where a download is written and verified first
    store(address, path, sha, size) publish that verified file; returns what the state records
    published(address, path, previous, file)  after the state recorded ``file``: tidy up
    poster(address, file, video)    the poster of published ``file`` beside it (``video``: its bytes here, if any)
    check(video) / notice_missing(recorded)   refresh's check / plan's look (no network)
    remove(address, file)           a delete
    sweep(recorded)                 half-done downloads of a killed run (and staged ones no render needs)
    cache_keep / cache_problem / cache_publish / cache_remove   the render cache's bytes
    cache_location() / cache_unservable(entries)   where entries kept here are recorded as being,
                                    and the plan's cheap look at the entries it would count free
    public_url(file) / player_url(file)       what a player can use
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from reconciler.config import Config
from reconciler.model import RecordedVideo
from reconciler.state import outputs, render_cache
from reconciler.util import s3url

CacheDamaged = render_cache.Damaged  # what ``cache_publish`` raises when the entry's bytes are not the recorded ones


class OutputsStore(Protocol):
    remote: bool  # True: a bucket (a download is staged locally, then uploaded)

    def download_path(self, address: str) -> Path: ...

    def store(self, address: str, path: Path, sha256: str, size: int) -> str: ...

    def place(self) -> str | None: ...

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None: ...

    def poster(self, address: str, file: str, video: Path | None = None) -> str: ...

    def check(self, video: RecordedVideo) -> str | None: ...

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]: ...

    def remove(self, address: str, recorded_file: str | None) -> list[str]: ...

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

    remote = False

    def __init__(self, config: Config):
        self.config = config

    def download_path(self, address: str) -> Path:
        return outputs.output_path(self.config, address)

    def store(self, address: str, path: Path, sha256: str, size: int) -> str:
        return outputs.relative(self.config, path)

    def place(self) -> str | None:
        return outputs.this_place(self.config)

    def published(self, address: str, path: Path, previous: str | None, file: str) -> None:
        return None  # the same path: a replace's new file was renamed over the old one

    def poster(self, address: str, file: str, video: Path | None = None) -> str:
        """``outputs/<address>.jpg`` from the published file (MediaError, OSError: said by the caller)."""
        from reconciler.media import poster

        dest = self.config.root / outputs.poster_of(file)
        poster.write_poster(video or self.config.root / file, dest)
        return outputs.relative(self.config, dest)

    def check(self, video: RecordedVideo) -> str | None:
        if s3url.is_s3(video.output_file or ""):
            return None  # an object of a bucket this project no longer uses: not checked here
        return outputs.check_output(self.config, video)

    def notice_missing(self, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
        return outputs.notice_missing(self.config, recorded)

    def remove(self, address: str, recorded_file: str | None) -> list[str]:
        return [recorded_file] if outputs.remove_output(self.config, address, recorded_file) else []

    def sweep(self, recorded: Callable[[], dict[str, RecordedVideo]] | None = None) -> None:
        outputs.sweep_partials(self.config)
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
        dest = outputs.output_path(self.config, address)
        render_cache.publish(self.config, entry, dest)
        return outputs.relative(self.config, dest)

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
    from reconciler.state.bucket_outputs import BucketOutputs

    return BucketOutputs(config, parallelism=parallelism or config.parallelism)
