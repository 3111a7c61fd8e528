"""Helpers of the provider tests: a scripted ``httpx.MockTransport``, providers wired to
it with a fixed clock and a retry policy that does not sleep. (A uniquely named module,
not conftest.py, so ``from tests.providers.helpers import ...`` cannot pick up another conftest.)"""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx

from reconciler.providers.base import Credentials
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.unisound import UnisoundProvider
from reconciler.providers.xingyun import XingyunProvider

SECRET = "s3cr3t-Do-Not-Leak-7f1e"
NOW = 1_700_000_000.0
XY_ENDPOINT = "https://xingyun.test"
UNI_ENDPOINT = "https://unisound.test"


class Sleeps:
    """An async ``sleep`` that records the delays instead of waiting."""

    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fast_policy(attempts: int = 5, sleeps: Sleeps | None = None) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, base=0.5, cap=8.0, sleep=sleeps or Sleeps(), rand=lambda: 1.0)


class Script:
    """A MockTransport handler answering from a script, recording every request.

    Each step is an ``httpx.Response``, an exception class/instance (raised with the
    request attached), or a callable ``request -> Response``. The last step repeats."""

    def __init__(self, *steps: Any):
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure", request=request)
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def ok(data: Any = None, status: int = 200, headers: dict | None = None, **top) -> httpx.Response:
    body = {"error_code": 0, "error_reason": "", **top}
    if data is not None:
        body["data"] = data
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def vendor_error(code: int, text: str = "vendor text", status: int = 200, headers: dict | None = None,
                 key: str = "error_reason") -> httpx.Response:
    return httpx.Response(status, content=json.dumps({"error_code": code, key: text}).encode(), headers=headers)


def make_xingyun(script: Script, *, attempts: int = 5, sleeps: Sleeps | None = None,
                 clock: Callable[[], float] = lambda: NOW, **kw) -> XingyunProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(script))
    return XingyunProvider(Credentials(XY_ENDPOINT, "app-1", SECRET), client=client,
                           policy=fast_policy(attempts, sleeps), clock=clock, **kw)


def make_unisound(script: Script, *, attempts: int = 5, sleeps: Sleeps | None = None,
                  clock: Callable[[], float] = lambda: NOW, **kw) -> UnisoundProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(script))
    return UnisoundProvider(Credentials(UNI_ENDPOINT, "key-1", SECRET), client=client,
                            policy=fast_policy(attempts, sleeps), clock=clock, **kw)
