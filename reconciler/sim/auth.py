"""The two vendors' request signatures, computed the way the server checks them.

Each recipe is one small function so a disagreement with a real server is a one-line
change (see docs/vendors.md):

- Xingyun: ``md5(lower(path incl. query) + lower(method) + sort_json_str + secret + ts)``,
  lower-case hex, where ``sort_json_str`` is ``json.dumps(dict(data), sort_keys=True)``
  with every space removed (also inside string values) and ``data`` is the JSON body
  of a POST, ``{}`` for a GET and for the multipart ``parse_ppt_file``.
- Unisound: ``SHA256(appKey + timestamp_ms + secret)``, UPPER-case hex. The document
  never says where the three values go, so the simulator can be told
  (``unisound_auth``: ``{"in": "query"|"body"|"header", "names": {"appkey": ...,
  "timestamp": ..., "signature": ...}}``) and accepts only that placement and spelling,
  like a real server would; by default query parameters with the document's spelling
  ``appKey``, ``timestamp``, ``signature``. Values sent anywhere else are not seen.

The checks return a vendor error code (or None) and never log or echo a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Mapping

UNISOUND_PLACES = ("query", "body", "header")
UNISOUND_KEYS = ("appkey", "timestamp", "signature")
UNISOUND_AUTH_DEFAULT = {"in": "query", "names": {"appkey": "appKey", "timestamp": "timestamp",
                                                  "signature": "signature"}}
XINGYUN_TIMESTAMP_WINDOW = 60.0  # seconds, as documented
UNISOUND_TIMESTAMP_WINDOW = 300.0  # seconds; the document is silent, we allow 5 minutes of skew


def xingyun_sort_json(data: Mapping) -> str:
    """The signed form of the body: sorted keys, ASCII escapes, every space deleted."""
    return json.dumps(dict(data), sort_keys=True).replace(" ", "")


def xingyun_token(*, target: str, method: str, data: Mapping, secret: str, timestamp: str) -> str:
    """X-TOKEN for a request; ``target`` is the path with its query string, no host."""
    sign = f"{target.lower()}{method.lower()}{xingyun_sort_json(data)}{secret}{timestamp}"
    return hashlib.md5(sign.encode("utf-8")).hexdigest()


def unisound_signature(*, appkey: str, timestamp: str, secret: str) -> str:
    """``signature`` query parameter: upper-case hex SHA-256 of appKey+timestamp+secret."""
    return hashlib.sha256(f"{appkey}{timestamp}{secret}".encode("utf-8")).hexdigest().upper()


def check_xingyun(
    *, headers: Mapping[str, str], target: str, method: str, data: Mapping,
    app_id: str, secret: str, now: float,
) -> tuple[int, str] | None:
    """None when the request is authentic, else (error_code, reason).

    Order: unknown app (20001), timestamp outside 60 s (20003, checked before the token so
    a client with a skewed clock learns that rather than "bad signature"), token (20002)."""
    given_app = headers.get("X-APP-ID") or ""
    if not given_app or not hmac.compare_digest(given_app.encode(), app_id.encode()):
        return 20001, "application does not exist or cannot be used"
    ts = (headers.get("X-TIMESTAMP") or "").strip()
    try:
        ts_value = int(ts)
    except ValueError:
        return 20003, "X-TIMESTAMP missing or not an integer number of seconds"
    if abs(now - ts_value) > XINGYUN_TIMESTAMP_WINDOW:
        return 20003, "timestamp expired: X-TIMESTAMP is more than 60 s from server time"
    expected = xingyun_token(target=target, method=method, data=data, secret=secret, timestamp=ts)
    given = (headers.get("X-TOKEN") or "").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return 20002, "signature check failed (X-TOKEN)"
    return None


def validate_unisound_auth(value: object) -> dict:
    """``unisound_auth`` of a configuration, completed with the defaults; ValueError if bad."""
    if value is None:
        return UNISOUND_AUTH_DEFAULT
    if not isinstance(value, dict) or set(value) - {"in", "names"}:
        raise ValueError('unisound_auth must be {"in": "query"|"body"|"header", "names": {...}}')
    place = value.get("in", UNISOUND_AUTH_DEFAULT["in"])
    if place not in UNISOUND_PLACES:
        raise ValueError(f"unisound_auth.in must be one of {list(UNISOUND_PLACES)}")
    names = value.get("names") or {}
    if not isinstance(names, dict) or set(names) - set(UNISOUND_KEYS) or not all(
            isinstance(v, str) and v for v in names.values()):
        raise ValueError(f"unisound_auth.names maps {list(UNISOUND_KEYS)} to non-empty names")
    return {"in": place, "names": {**UNISOUND_AUTH_DEFAULT["names"], **names}}


def unisound_given(placement: dict, *, query: Mapping[str, str], headers: Mapping[str, str],
                   body: object) -> tuple[dict[str, str], object]:
    """The auth values a request carries where ``placement`` says (missing ones are ""),
    and the body with them taken out (a body placement shares the JSON object)."""
    names = placement["names"]
    if placement["in"] == "query":
        source: Mapping = query
    elif placement["in"] == "header":
        source = headers
    else:
        source = body if isinstance(body, dict) else {}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in names.values()}
    given = {key: source.get(name) for key, name in names.items()}
    return {k: v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in given.items()}, body


def check_unisound(
    *, given: Mapping[str, str], appkey: str, secret: str, now: float,
) -> tuple[int, str] | None:
    """None when the request is authentic, else (error_code, message). ``given`` holds
    the ``appkey``, ``timestamp`` and ``signature`` found where the server looks.

    No appkey there or an unknown one gives 23908; a missing, malformed or stale
    timestamp or a wrong signature gives 23902 (the document has one code for these)."""
    given_key = given.get("appkey") or ""
    if not given_key or not hmac.compare_digest(given_key.encode(), appkey.encode()):
        return 23908, "appkey does not exist"
    ts = given.get("timestamp") or ""
    try:
        ts_ms = int(ts)
    except ValueError:
        return 23902, "signature check failed: timestamp missing or not milliseconds"
    if abs(now - ts_ms / 1000.0) > UNISOUND_TIMESTAMP_WINDOW:
        return 23902, "signature check failed: timestamp expired"
    expected = unisound_signature(appkey=given_key, timestamp=ts, secret=secret)
    given_sig = given.get("signature") or ""
    if not hmac.compare_digest(given_sig.encode(), expected.encode()):
        return 23902, "signature check failed"
    return None
