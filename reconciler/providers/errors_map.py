"""Vendor answers and transport failures -> the three kinds of ``ProviderError``.

Why a module of its own: every error of both vendors is classified once, here, at the
boundary (ARCHITECTURE habits 6-7), so the rest of reconciler only ever sees
``TransientError`` (retry with backoff), ``PermanentError`` (stop; the message says
what to do) or ``OutcomeUnknownError`` (a paid create may or may not exist: never
re-send it). No ``httpx`` exception passes this point.

The one hard rule concerns creates (``Call.create``): a create is only ever reported
as transient when the vendor definitely did not act on it, i.e. the connection failed
before the request was sent, or a definite answer came back (HTTP 429/5xx per
``create_status_is_definite``). Anything after the bytes left us without a readable
answer (timeout, reset, a garbled 200) is outcome-unknown, and so is a vendor code that
may follow the creation of the task (``codes.create_outcome_unknown``: Unisound 23903).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable

import httpx

from reconciler.errors import OutcomeUnknownError, PermanentError, ProviderError, TransientError
from reconciler.util import urls

from . import codes

SKEW_LIMIT = 30.0  # seconds of clock difference worth naming in an auth error


@dataclass(frozen=True)
class Call:
    """What was being attempted: named in every message."""

    provider: str
    op: str  # vendor operation, e.g. "create_render_task"
    create: bool = False  # a paid, non-idempotent create

    def prefix(self) -> str:
        return f"{self.provider}: {self.op}"


# Sent nothing yet: a retry cannot duplicate anything.
BEFORE_SEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
# The request could not even be built or addressed: retrying cannot help.
UNUSABLE = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError)


def transport_error(exc: Exception, call: Call) -> ProviderError:
    """Map a transport failure (any ``httpx`` error) for ``call``."""
    kind = type(exc).__name__
    if isinstance(exc, BEFORE_SEND):
        return TransientError(
            f"{call.prefix()}: could not reach the vendor ({kind}); nothing was sent. "
            "Check the network and the endpoint, then try again.",
            provider=call.provider, sent=False,
        )
    if isinstance(exc, UNUSABLE):
        return PermanentError(
            f"{call.prefix()}: the request could not be sent ({kind}: {urls.redact_all(str(exc))}). "
            "Check the endpoint URL.",
            provider=call.provider,
        )
    return lost_answer(call, f"the connection failed after the request was sent ({kind})")


def lost_answer(call: Call, what: str) -> ProviderError:
    """The request left us but no usable answer came back."""
    if call.create:
        return OutcomeUnknownError(
            f"{call.prefix()}: {what}; the vendor may or may not have started a paid render. "
            "It was NOT re-sent, and is not sent again unless you ask (`reconciler apply --replace ADDRESS`): "
            "check the vendor console first.",
            provider=call.provider,
        )
    return TransientError(f"{call.prefix()}: {what}; try again later.", provider=call.provider)


def create_status_is_definite(status: int, vendor_body: bool) -> bool:
    """Whether an HTTP 429/5xx answer to a create is a definite "not done" (safe to re-send).

    Choice: docs/vendors.md counts HTTP 429/5xx as safe to retry, so they are definite,
    except a 504 Gateway Timeout without a vendor JSON answer: that is a gateway saying
    it forwarded the request and gave up waiting, the textbook lost answer, so its
    outcome is unknown. A 5xx that carries a vendor ``error_code`` is always definite."""
    return vendor_body or status != 504


def read_body(resp: httpx.Response, call: Call) -> dict:
    """The vendor JSON object of ``resp`` (its ``error_code`` is the caller's to judge),
    or the right error for an HTTP error status or an unreadable answer."""
    body = json_object(resp)
    vendor = body is not None and "error_code" in body
    if vendor and code_of(body) not in (0, None):
        return body  # a vendor-coded refusal: the code decides, whatever the status
    status = resp.status_code
    if status == 429 or status >= 500:
        if call.create and not create_status_is_definite(status, vendor):
            raise lost_answer(call, f"HTTP {status} without a vendor answer")
        raise TransientError(
            f"{call.prefix()}: the vendor answered HTTP {status}; it is busy or failing. Try again later.",
            provider=call.provider, code=status, retry_after=retry_after(resp.headers.get("retry-after")))
    if status >= 300:
        location = resp.headers.get("location") if status < 400 else None
        moved = f" (redirected to {location})" if location else ""
        raise PermanentError(
            f"{call.prefix()}: the vendor answered HTTP {status}{moved}. Check the endpoint URL and the credentials.",
            provider=call.provider, code=status)
    if body is None:
        raise lost_answer(call, f"the answer (HTTP {status}) was not a JSON object")
    return body


def retry_after(value: str | None) -> float | None:
    """The seconds of a ``Retry-After`` header (a number, or an HTTP date), at most an
    hour; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return min(3600.0, max(0.0, seconds)) if math.isfinite(seconds) else None


def json_object(resp: httpx.Response) -> dict | None:
    try:
        data = json.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def code_of(body: dict) -> int | str | None:
    """The vendor ``error_code`` as an int where it is numeric (Unisound documents a string)."""
    code = body.get("error_code")
    if isinstance(code, str) and not code.strip():
        return None
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    if isinstance(code, bool):
        return int(code)
    return code


def message_of(body: dict) -> str:
    """The vendor's error text: ``error_reason`` or ``error_msg`` (Xingyun copies differ),
    ``message`` (Unisound), or ``msg``."""
    for key in ("error_reason", "error_msg", "message", "msg"):
        value = body.get(key)
        if value:
            return str(value)
    return ""


def vendor_error(call: Call, code: int | str, message: str, headers: httpx.Headers | None,
                 clock: Callable[[], float]) -> ProviderError:
    """The error for a non-zero vendor ``error_code``."""
    kind, what, todo = codes.lookup(call.provider, code)
    said = f" (vendor says: {message})" if message and message != what else ""
    if call.create and codes.create_outcome_unknown(call.provider, code):
        unknown = lost_answer(call, f"{what} [error {code}]{said}, which can come after the task was created")
        unknown.code = code
        return unknown
    text = f"{call.prefix()}: {what} [error {code}]{said}. {todo}"
    if kind == codes.AUTH and code in codes.CLOCK_SENSITIVE:
        text += clock_skew_note(headers, clock)
    cls = TransientError if kind == codes.TRANSIENT else PermanentError
    return cls(text, provider=call.provider, code=code)


def clock_skew_note(headers: httpx.Headers | None, clock: Callable[[], float]) -> str:
    """`` The local clock is off by N seconds ...`` when the server's ``Date`` header
    differs from ``clock()`` by more than ``SKEW_LIMIT``; else ``""``."""
    raw = headers.get("date") if headers is not None else None
    if not raw:
        return ""
    try:
        server = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError):
        return ""
    off = clock() - server
    if abs(off) <= SKEW_LIMIT:
        return ""
    side = "ahead of" if off > 0 else "behind"
    return (f" The local clock is off by {abs(off):.0f} seconds ({side} the server's Date: {raw}); "
            "signatures carry a timestamp, so fix the system clock (enable NTP) and try again.")
