"""Downloading a finished video: streamed, checked, durable, atomic.

Why a module of its own: an output is what the user paid for, and a Unisound output URL
may be fetched exactly once. So the bytes are streamed into a temporary file beside
``dest`` (same filesystem, so the final ``os.replace`` is atomic), hashed while they
arrive, checked against ``Content-Length``, fsynced, renamed, and the directory is
fsynced (``util/atomic.Replacement``, the one atomic write). Before the rename the file must be an MP4 (``util.mp4``: an ``ftyp`` box
first, boxes that tile the file, a ``moov``), not only the announced length: a proxy's
HTML error page served with 200 is never published. On any failure the temporary
file is removed and ``dest`` is untouched: a reader sees the old file or the complete
new one, never a partial one.

A problem of this machine (a full disk, a file or folder in the way, a permission) is
a ``PermanentError`` with ``code=LOCAL`` whose message says what to fix: it is never
an output lost, and the render stays finished and not yet downloaded.

A one-shot URL gets exactly one GET: no HEAD, no retry, no second look. Before it,
``prepare`` checks that the bytes have somewhere to go, so a local problem never uses
the URL up. If that one GET fails the output is lost, and the error says a re-render
is needed (``code="output_lost"``; bytes that are not a video are kept aside as
``.rejected``, the path in ``error.kept``). Only a connection that never opened is
tried again: no GET left, so the URL is still unused. Other URLs may be retried on
transient failures, a body that is not a video included.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from pathlib import Path

import httpx

from reconciler.util import atomic, mp4
from reconciler.errors import PermanentError, ProviderError, TransientError

from . import errors_map, retry
from .base import DownloadResult
from .errors_map import Call
from .http import VendorHTTP, log

CHUNK = 1 << 16
OUTPUT_MODE = 0o644  # a downloaded video, like every file util.atomic writes (rw-r--r--)
ONE_SHOT_RESERVE = 256 << 20  # free bytes required before the single GET of a one-shot URL
LOCAL = "local_write"  # ``code`` of an error of this machine (disk, path, permission): never a loss
NOT_A_VIDEO = "not_a_video"  # ``code`` of a complete body that is not an MP4


async def download(http: VendorHTTP, url: str, dest: Path, *, one_shot: bool) -> DownloadResult:
    """Fetch ``url`` into ``dest``; see the module docstring for the guarantees."""
    call = Call(http.provider, "download")
    fetch = _fetch_one_shot if one_shot else _fetch_again
    return await retry.retrying(lambda: fetch(http, url, dest, call), http.policy, call.prefix())


async def _fetch_again(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """A GET of a URL that may be fetched again: a body that is not a video is retried."""
    out = prepare(dest, call, reserve=0)
    return await _fetch(http, url, dest, out, call, one_shot=False)


async def _fetch_one_shot(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """The single GET of a one-shot URL.

    Before it, ``prepare`` makes sure the bytes have somewhere to go (the folder, the
    temporary file, ``ONE_SHOT_RESERVE`` bytes free): a local problem found then is a
    ``LOCAL`` error and the URL is still unused. Choice: only a connection that failed
    before the GET left this machine (``errors_map.BEFORE_SEND``) stays a retryable
    ``TransientError``: the server saw nothing, so the URL is unused. Any other failure
    used the URL up: the output is lost (bytes that are not a video are kept aside)."""
    out = prepare(dest, call, reserve=ONE_SHOT_RESERVE)
    try:
        return await _fetch(http, url, dest, out, call, one_shot=True)
    except TransientError as exc:
        if isinstance(exc.__cause__, errors_map.BEFORE_SEND):
            raise
        raise _lost(call, exc) from exc
    except ProviderError as exc:
        raise _lost(call, exc) from exc


def _lost(call: Call, exc: ProviderError) -> PermanentError:
    reason = re.split(r";|\. ", str(exc).removeprefix(f"{call.prefix()}: "), maxsplit=1)[0].rstrip(".")
    lost = PermanentError(
        f"{call.prefix()}: the single allowed download of the video failed ({reason}). "
        "The vendor serves this URL only once, so the output is lost: a re-render is needed "
        "(the next plan proposes it).",
        provider=call.provider, code="output_lost",
    )
    lost.kept = getattr(exc, "kept", None)  # bytes kept aside for inspection, if any
    return lost


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
        out.commit()
    except BaseException as exc:
        out.discard()
        if isinstance(exc, OSError):
            raise local_error(call, f"could not write {dest}", exc) from exc
        raise
    return DownloadResult(path=dest, sha256=digest, bytes=size)


def _not_a_video(tmp: Path, why: str, call: Call, *, one_shot: bool) -> ProviderError:
    """A complete body that is not an MP4 (an HTML error page served with 200...). A
    re-fetchable URL is tried again; the bytes of a one-shot URL are kept aside
    (``.rejected`` beside the output) for inspection before the output is reported lost."""
    message = f"{call.prefix()}: the file server's answer is not an MP4 video ({why})"
    if not one_shot:
        return TransientError(message + "; try again.", provider=call.provider, code=NOT_A_VIDEO)
    kept = tmp.with_suffix(".rejected")
    try:
        os.replace(tmp, kept)
    except OSError:
        kept = None
    error = PermanentError(message + ".", provider=call.provider, code=NOT_A_VIDEO)
    error.kept = kept
    return error


def local_error(call: Call, what: str, exc: OSError) -> PermanentError:
    """A problem of this machine (disk full, a blocked path, a permission): never a loss
    of the output. The message says what to free or fix; ``code`` is ``LOCAL``."""
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
        provider=call.provider, code=LOCAL,
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

