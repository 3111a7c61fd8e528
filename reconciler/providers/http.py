"""The one HTTP path of every vendor call: limit, time out, send, log, map, retry.

Why a module of its own: both vendors need the same plumbing, and keeping it in one
place makes the guarantees easy to check: every request waits for a slot of the
provider's ``asyncio.Semaphore``, carries a timeout (connect shorter than read), is
built afresh per attempt (so each retry is signed with a fresh timestamp), is logged
at DEBUG with method, path, status and duration only (never a header, query or body:
those carry signatures), and leaves here either as a vendor JSON object or as one of
the three ``ProviderError`` kinds. The ``httpx`` client is injected (habit 5), so tests
can swap in ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import httpx

from . import errors_map, retry
from .errors_map import Call

log = logging.getLogger("reconciler.providers")

CONNECT_TIMEOUT = 10.0  # seconds; never longer than the call's own timeout


def make_timeout(seconds: float) -> httpx.Timeout:
    """Every call's timeout: ``seconds`` per read/write/pool wait, a shorter connect."""
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))


class VendorHTTP:
    """A vendor's HTTP client with its concurrency limit, timeout, retry policy and clock.

    ``clock`` (seconds since the epoch) is what signatures are stamped with and what the
    server's ``Date`` is compared with; tests replace it to simulate a skewed clock."""

    def __init__(self, provider: str, *, timeout: float = 30.0, concurrency: int = 5,
                 client: httpx.AsyncClient | None = None, policy: retry.RetryPolicy = retry.DEFAULT,
                 clock: Callable[[], float] = time.time, trust_env: bool = True):
        self.provider = provider
        self.timeout = make_timeout(timeout)
        self.policy = policy
        self.clock = clock
        self.semaphore = asyncio.Semaphore(concurrency)
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            trust_env=trust_env,
        )

    def build(self, method: str, url: str, **kwargs) -> httpx.Request:
        """An ``httpx.Request`` carrying this provider's timeout (even on an injected client)."""
        return self.client.build_request(method, url, timeout=self.timeout, **kwargs)

    async def call_json(self, build: Callable[[], httpx.Request], call: Call,
                        tolerate: Callable[[int | str], bool] = lambda code: False) -> dict:
        """Send ``build()`` (re-built per attempt) and return the vendor's JSON object.

        A non-zero ``error_code`` raises its mapped error unless ``tolerate(code)``, in
        which case the body is returned for the caller to interpret. Transient errors
        are retried under ``self.policy``; ``errors_map`` guarantees that a create only
        raises ``TransientError`` when re-sending it cannot duplicate a render."""

        async def once() -> dict:
            resp = await self.send(build, call)
            body = errors_map.read_body(resp, call)
            code = errors_map.code_of(body)
            if code not in (0, None) and not tolerate(code):
                raise errors_map.vendor_error(call, code, errors_map.message_of(body), resp.headers, self.clock)
            return body

        return await retry.retrying(once, self.policy, call.prefix())

    async def send(self, build: Callable[[], httpx.Request], call: Call) -> httpx.Response:
        """One attempt: wait for a slot, send, read the whole answer; map transport errors."""
        async with self.semaphore:
            started = time.monotonic()
            method, path = "?", call.op
            try:
                request = build()
                method, path = request.method, request.url.path
                resp = await self.client.send(request)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                log.debug("%s %s %s -> %s after %.3fs", self.provider, method, path,
                          type(exc).__name__, time.monotonic() - started)
                raise errors_map.transport_error(exc, call) from exc
            log.debug("%s %s %s -> %d in %.3fs", self.provider, method, path,
                      resp.status_code, time.monotonic() - started)
            return resp

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

