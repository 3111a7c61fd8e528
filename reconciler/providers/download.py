"""Downloading a finished video: streamed, checked, durable, atomic.

Why a module of its own: an output is what the user paid for, and a Unisound output URL
may be fetched exactly once. So the bytes are streamed into a temporary file beside
``dest`` (same filesystem, so the final ``os.replace`` is atomic), hashed while they
arrive, checked against ``Content-Length``, fsynced, renamed, and the directory is
fsynced (``util/atomic.Replacement``, the one atomic write). Before the rename the
file must be an MP4 (``util.mp4``: an ``ftyp`` box first, boxes that tile the file, a
``moov``), not only the announced length: a proxy's HTML error page served with 200 is
never published; and it must decode (``media.verify.probe``: a video stream, a positive
duration, every frame decoded without error, docs/outputs.md), so a file with the right
boxes and damaged media is never published either: it is a bad download like the error
page (tried again; a one-shot URL's bytes kept aside), never a loss of its own. The
measures of that decode come back in ``DownloadResult.media``. On any failure the temporary
file is removed and ``dest`` is untouched: a reader sees the old file or the complete
new one, never a partial one.

A problem of this machine (a full disk, a file or folder in the way, a permission) is
a ``PermanentError`` with ``local=True`` whose message says what to fix: it is never
an output lost, and the render stays finished and not yet downloaded.

A one-shot URL is never probed: no HEAD, and no GET after one that succeeded. Before
each GET, ``prepare`` checks that the bytes have somewhere to go, so a local problem
never uses the URL up. A GET that failed is tried again (another GET cannot make a
used link worse, and may save a paid render: see ``_download_one_shot``); when the
server says the link is gone, or the tries run out, the output is lost and the error
says a re-render is needed (``output_lost=True``; bytes that were not a video are
kept aside as ``.rejected``, the path in ``error.kept``). Other URLs are retried on
transient failures, a body that is not a video included.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from reconciler.errors import MediaError, PermanentError, ProviderError, TransientError
from reconciler.util import atomic, mp4

from . import errors_map, retry
from .base import DownloadResult
from .errors_map import Call
from .http import VendorHTTP, log

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.media.verify import MediaInfo

CHUNK = 1 << 16
OUTPUT_MODE = 0o644  # a downloaded video, like every file util.atomic writes (rw-r--r--)
ONE_SHOT_RESERVE = 256 << 20  # free bytes required before the single GET of a one-shot URL


async def download(http: VendorHTTP, url: str, dest: Path, *, one_shot: bool) -> DownloadResult:
    """Fetch ``url`` into ``dest``; see the module docstring for the guarantees."""
    call = Call(http.provider, "download")
    if one_shot:
        return await _download_one_shot(http, url, dest, call)
    return await retry.retrying(lambda: _fetch_again(http, url, dest, call), http.policy, call.prefix())


async def _fetch_again(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """A GET of a URL that may be fetched again: a body that is not a video is retried."""
    out = prepare(dest, call, reserve=0)
    return await _fetch(http, url, dest, out, call, one_shot=False)


async def _download_one_shot(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """The download of a one-shot URL.

    Before each GET, ``prepare`` makes sure the bytes have somewhere to go (the folder,
    the temporary file, ``ONE_SHOT_RESERVE`` bytes free): a local problem found then is
    a local error (``local=True``) and the URL is still unused.

    Choice: a GET that *succeeded* is never followed by another (no probe, no second look
    "to check"). But after a GET that failed (the file server answered 5xx, cut the body
    short, or sent bytes that are not a video) the output is either still to be had or
    already gone: one more GET cannot make that worse, while giving up at once would pay
    for a new render because of a file server's passing error. So those failures are
    tried again like any download (the rejected bytes kept aside); the output is lost
    only when the server says the link is gone (403/404/410...) or the tries run out.
    A connection that never opened stays a ``TransientError`` for later: the server saw
    nothing, so the URL is unused."""
    kept: list[Path] = []
    failures: list[str] = []

    async def once() -> DownloadResult:
        out = prepare(dest, call, reserve=ONE_SHOT_RESERVE)
        try:
            return await _fetch(http, url, dest, out, call, one_shot=True)
        except ProviderError as exc:
            _keep_first(kept, exc.kept)
            failures.append(_reason(call, exc))
            raise

    try:
        result = await retry.retrying(once, http.policy, call.prefix())
    except ProviderError as exc:
        if exc.sent is False or exc.local:
            _drop(kept)  # nothing reached the server, or this machine's problem: the link may well be unused
            raise
        raise _lost(call, failures, kept) from exc
    _drop(kept)  # the video came after all
    return result


def _drop(kept: list[Path]) -> None:
    for path in kept:
        path.unlink(missing_ok=True)


def _keep_first(kept: list[Path], path: Path | None) -> None:
    """Keep the first rejected body for inspection; later ones of the same link are dropped."""
    if path is None:
        return
    if kept:
        path.unlink(missing_ok=True)
    else:
        kept.append(path)


def _reason(call: Call, exc: ProviderError) -> str:
    return re.split(r";|\. ", str(exc).removeprefix(f"{call.prefix()}: "), maxsplit=1)[0].rstrip(".")


def _lost(call: Call, failures: list[str], kept: list[Path]) -> PermanentError:
    """The output of a one-shot URL is lost: say what the first GET got and, if it
    differs, what the last one did (a used link's answer)."""
    reason = failures[0] if len(failures) < 2 or failures[-1] == failures[0] else f"{failures[0]}; then {failures[-1]}"
    return PermanentError(
        f"{call.prefix()}: the one-shot download of the video failed ({reason}). "
        "The vendor serves this URL only once, so the output is lost: a re-render is needed "
        "(the next plan proposes it).",
        provider=call.provider, output_lost=True, kept=kept[0] if kept else None,
    )


async def _fetch(http: VendorHTTP, url: str, dest: Path, out: atomic.Replacement, call: Call, *,
                 one_shot: bool) -> DownloadResult:
    """One GET of ``url`` into ``out`` (the one atomic write), checked to be a video, then
    renamed over ``dest``."""
    try:
        async with http.semaphore:
            digest, size = await _stream(http, url, out.file, call)
        out.file.truncate(size)  # nothing of a preallocation beyond the body
        out.file.flush()
        why = mp4.problem(out.tmp)
        if why is not None:
            raise _not_a_video(out.tmp, why, call, one_shot=one_shot)
        info = await _decodes(out.tmp, call, one_shot=one_shot)
        out.commit()
    except BaseException as exc:
        out.discard()
        if isinstance(exc, OSError):
            raise local_error(call, f"could not write {dest}", exc) from exc
        raise
    return DownloadResult(path=dest, sha256=digest, bytes=size, media=info)


async def _decodes(tmp: Path, call: Call, *, one_shot: bool) -> MediaInfo:
    """The full decode of the received MP4 (off the event loop): its measures, or the
    bad download (``_not_a_video``) when it does not play. An ``OSError`` (the file
    cannot be read here) is this machine's problem and goes up as such."""
    from reconciler.media import verify

    try:
        return await asyncio.to_thread(verify.probe, tmp)
    except MediaError as exc:
        raise _not_a_video(tmp, exc.reason, call, one_shot=one_shot, what="a video that decodes") from None


def _not_a_video(tmp: Path, why: str, call: Call, *, one_shot: bool, what: str = "an MP4 video") -> ProviderError:
    """A complete body that is not an MP4 (an HTML error page served with 200...), or
    one whose media does not decode: tried again. The bytes got from a one-shot URL are
    kept aside (``.rejected`` beside the output) for inspection, in case the output turns out lost."""
    kept = None
    if one_shot:
        try:
            os.replace(tmp, tmp.with_suffix(".rejected"))
            kept = tmp.with_suffix(".rejected")
        except OSError:
            pass
    return TransientError(f"{call.prefix()}: the file server's answer is not {what} ({why}); try again.",
                          provider=call.provider, kept=kept)


def local_error(call: Call, what: str, exc: OSError) -> PermanentError:
    """A problem of this machine (disk full, a blocked path, a permission): never a loss
    of the output (``local=True``). The message says what to free or fix."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free disk space"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "fix the permissions of the outputs folder"
    else:
        fix = "fix the outputs folder"
    return PermanentError(
        f"{call.prefix()}: {what}: {exc.strerror or exc}. This is a problem of this machine, not of the "
        f"vendor: {fix}, then run `reconciler refresh` (or `reconciler apply`) to download it; no new render "
        "is needed.",
        provider=call.provider, local=True,
    )


def prepare(dest: Path, call: Call, *, reserve: int) -> atomic.Replacement:
    """Make sure the bytes have somewhere to go before any GET: ``dest`` is not a folder,
    its folder exists (no file in the way), a temporary file can be created beside it,
    and at least ``reserve`` bytes are free there. Returns that temporary file."""
    if dest.is_dir():
        raise local_error(call, f"cannot write {dest}", IsADirectoryError(
            errno.EISDIR, f"a folder is where the video must go; move or remove the folder {dest}"))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = next((p for p in (dest.parent, *dest.parent.parents) if p.exists() and not p.is_dir()),
                       dest.parent)
        raise local_error(call, f"cannot create the folder {dest.parent}", NotADirectoryError(
            exc.errno, f"{blocker} is a file where a folder must be; move it away")) from exc
    except OSError as exc:
        raise local_error(call, f"cannot create the folder {dest.parent}", exc) from exc
    if reserve:
        free = shutil.disk_usage(dest.parent).free
        if free < reserve:
            raise local_error(call, f"only {free // (1 << 20)} MiB free in {dest.parent}", OSError(
                errno.ENOSPC, f"the one download this URL allows needs at least {reserve >> 20} MiB free"))
    try:
        return atomic.Replacement(dest, mode=OUTPUT_MODE, suffix=".part")
    except OSError as exc:
        raise local_error(call, f"cannot create a file in {dest.parent}", exc) from exc


async def _stream(http: VendorHTTP, url: str, out, call: Call) -> tuple[str, int]:
    """Stream the body into ``out``; return (sha256 hex, bytes). Raises ProviderError."""
    digest, size = hashlib.sha256(), 0
    try:
        async with http.client.stream("GET", url, timeout=http.timeout, follow_redirects=True) as resp:
            log.debug("%s GET %s%s -> %d", http.provider, resp.url.host, resp.url.path, resp.status_code)
            _check_status(resp, call)
            expected = _content_length(resp)
            if expected and resp.headers.get("content-encoding", "identity").lower() == "identity":
                _reserve(out, expected)
            async for chunk in resp.aiter_bytes(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            encoded = resp.headers.get("content-encoding", "identity").lower() != "identity"
            received = resp.num_bytes_downloaded if encoded else size  # Content-Length counts wire bytes
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise errors_map.transport_error(exc, call) from exc
    if expected is not None and received != expected:
        raise TransientError(
            f"{call.prefix()}: the video was cut short ({received} of {expected} bytes); try again.",
            provider=call.provider,
        )
    return digest.hexdigest(), size


def _check_status(resp: httpx.Response, call: Call) -> None:
    status = resp.status_code
    if status == 429 or status >= 500:
        raise TransientError(f"{call.prefix()}: the file server answered HTTP {status}; try again later.",
                             provider=call.provider, code=status)
    if status != 200:
        raise PermanentError(
            f"{call.prefix()}: the file server answered HTTP {status}: the video URL has expired or is gone. "
            "Run `reconciler refresh` for a fresh URL, or render the video again.",
            provider=call.provider, code=status,
        )


def _reserve(out, size: int) -> None:
    """Claim the announced length on disk before reading the body, so a full disk is
    found before the bytes are (where the filesystem can: else the writes find it)."""
    try:
        os.posix_fallocate(out.fileno(), 0, size)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        return


def _content_length(resp: httpx.Response) -> int | None:
    raw = resp.headers.get("content-length")
    return int(raw) if raw and raw.strip().isdigit() else None

