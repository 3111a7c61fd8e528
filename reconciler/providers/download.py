"""Downloading a finished video: streamed, checked, durable, atomic.

Why a module of its own: an output is what the user paid for, and a Unisound output URL
may be fetched exactly once. So the bytes are streamed into a temporary file beside
``dest`` (same filesystem, so the final ``os.replace`` is atomic), hashed while they
arrive, checked against ``Content-Length``, fsynced, renamed, and the directory is
fsynced (``util/atomic.Replacement``, the one atomic write). On any failure the temporary file is removed and ``dest`` is untouched: a
reader sees the old file or the complete new one, never a partial one.

A one-shot URL gets exactly one GET: no HEAD, no retry, no second look; if that one
GET fails the output is lost, and the error says a re-render is needed
(``code="output_lost"``). Only a connection that never opened is tried again: no GET
left, so the URL is still unused. Other URLs may be retried on transient failures.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from reconciler.util import atomic
from reconciler.errors import PermanentError, ProviderError, TransientError

from . import errors_map, retry
from .base import DownloadResult
from .errors_map import Call
from .http import VendorHTTP, log

CHUNK = 1 << 16
OUTPUT_MODE = 0o644  # a downloaded video, like every new file util/atomic writes (rw-r--r--)


async def download(http: VendorHTTP, url: str, dest: Path, *, one_shot: bool) -> DownloadResult:
    """Fetch ``url`` into ``dest``; see the module docstring for the guarantees."""
    call = Call(http.provider, "download")
    fetch = _fetch_one_shot if one_shot else _fetch
    return await retry.retrying(lambda: fetch(http, url, dest, call), http.policy, call.prefix())


async def _fetch_one_shot(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """The single GET of a one-shot URL.

    Choice: only a connection that failed before the GET left this machine
    (``errors_map.BEFORE_SEND``) stays a retryable ``TransientError``: the server saw
    nothing, so the URL is unused. Any other failure used the URL up: the output is lost."""
    try:
        return await _fetch(http, url, dest, call)
    except TransientError as exc:
        if isinstance(exc.__cause__, errors_map.BEFORE_SEND):
            raise
        raise _lost(call, exc) from exc
    except ProviderError as exc:
        raise _lost(call, exc) from exc


def _lost(call: Call, exc: ProviderError) -> PermanentError:
    reason = re.split(r";|\. ", str(exc).removeprefix(f"{call.prefix()}: "), maxsplit=1)[0].rstrip(".")
    return PermanentError(
        f"{call.prefix()}: the single allowed download of the video failed ({reason}). "
        "The vendor serves this URL only once, so the output is lost: a re-render is needed "
        "(the next plan proposes it).",
        provider=call.provider, code="output_lost",
    )


async def _fetch(http: VendorHTTP, url: str, dest: Path, call: Call) -> DownloadResult:
    """One GET of ``url`` into a temp file, renamed over ``dest`` only when complete."""
    out = _temp_beside(dest, call)
    try:
        with out:  # renamed over ``dest`` (fsynced) only if the block ends normally
            async with http.semaphore:
                digest, size = await _stream(http, url, out.file, call)
    except OSError as exc:
        raise PermanentError(
            f"{call.prefix()}: could not write {dest}: {exc.strerror or exc}. "
            "Free disk space or fix permissions, then run `reconciler refresh`.",
            provider=http.provider,
        ) from exc
    return DownloadResult(path=dest, sha256=digest, bytes=size)


def _temp_beside(dest: Path, call: Call) -> atomic.Replacement:
    try:
        return atomic.Replacement(dest, mode=OUTPUT_MODE, suffix=".part")
    except OSError as exc:
        raise PermanentError(
            f"{call.prefix()}: cannot create a file in {dest.parent}: {exc.strerror or exc}. "
            "Fix the outputs directory.",
            provider=call.provider,
        ) from exc


async def _stream(http: VendorHTTP, url: str, out, call: Call) -> tuple[str, int]:
    """Stream the body into ``out``; return (sha256 hex, bytes). Raises ProviderError."""
    digest, size = hashlib.sha256(), 0
    try:
        async with http.client.stream("GET", url, timeout=http.timeout, follow_redirects=True) as resp:
            log.debug("%s GET %s%s -> %d", http.provider, resp.url.host, resp.url.path, resp.status_code)
            _check_status(resp, call)
            expected = _content_length(resp)
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


def _content_length(resp: httpx.Response) -> int | None:
    raw = resp.headers.get("content-length")
    return int(raw) if raw and raw.strip().isdigit() else None

