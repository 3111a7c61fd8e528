"""A free, authenticated call that can never start a render: is this vendor reachable,
do our credentials and signature pass, how far is our clock from the server's?

Why a module of its own: ``reconciler doctor`` must learn more from one call than the
verbs of the Provider seam say (the vendor's own code, the ``Date`` header, the round
trip), and it must not retry or raise: every outcome is a finding to report. Each
provider builds its probe request (Xingyun ``get_render_task`` for a task id that
cannot exist, Unisound ``progress`` for a made-up task id) and names the not-found code
that proves authentication passed; the rest is shared here. A ``Probe`` carries no
header, query or body of the request: nothing in it can hold a secret or a signature.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable

import httpx

from reconciler.errors import ProviderError

from . import codes, errors_map
from .errors_map import Call
from .http import VendorHTTP

REACHED = "reached"  # a vendor answer: see ``authenticated``
UNREACHABLE = "unreachable"  # no answer at all (DNS, refused, timeout, TLS)
NOT_THE_API = "not_the_api"  # an answer, but not this vendor's JSON (wrong endpoint or path)
# The path does not exist there (with a JSON body or not, even one with an ``error_code``):
# the vendors answer the probe's path with HTTP 200, so this is a wrong endpoint, never a
# sign that the credentials passed.
WRONG_PATH = frozenset({404, 405})


@dataclass(frozen=True)
class Probe:
    outcome: str  # REACHED | UNREACHABLE | NOT_THE_API
    authenticated: bool  # the vendor accepted our credentials and signature
    code: int | str | None  # the vendor's error_code, if it answered with one
    detail: str  # what happened, for people (never a secret)
    rtt: float  # seconds, request sent to answer read
    skew: float | None  # local clock minus the server's Date (seconds), if it sent one
    http_status: int | None = None


async def run(http: VendorHTTP, build: Callable[[], httpx.Request], call: Call, passed: frozenset) -> Probe:
    """Send ``build()`` once; ``passed`` are the codes that prove authentication passed."""
    started = time.monotonic()
    try:
        resp = await http.send(build, call)
    except ProviderError as exc:
        return Probe(UNREACHABLE, False, None, str(exc), time.monotonic() - started, None)
    rtt = time.monotonic() - started
    skew = skew_of(resp.headers, http.clock() - rtt / 2)
    body = errors_map.json_object(resp)
    if resp.status_code in WRONG_PATH:  # whatever its body says: no API of this vendor at that path
        return Probe(NOT_THE_API, False, None, f"HTTP {resp.status_code} (no such path: a wrong endpoint)",
                     rtt, skew, resp.status_code)
    if body is None or "error_code" not in body:
        return Probe(NOT_THE_API, False, None, f"HTTP {resp.status_code} without a {call.provider} answer",
                     rtt, skew, resp.status_code)
    code = errors_map.code_of(body)
    said = errors_map.message_of(body)
    if code in passed or code in (0, None):
        return Probe(REACHED, True, code, "authenticated", rtt, skew, resp.status_code)
    kind, what, _todo = codes.lookup(call.provider, code)
    detail = f"{what} [error {code}]" + (f" (vendor says: {said})" if said and said != what else "")
    return Probe(REACHED, False, code, detail, rtt, skew, resp.status_code)


def skew_of(headers: httpx.Headers, local: float) -> float | None:
    """``local`` minus the server's ``Date`` header, in seconds; None without one."""
    raw = headers.get("date")
    if not raw:
        return None
    try:
        return local - parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
