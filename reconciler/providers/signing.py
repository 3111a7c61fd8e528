"""Request signing for both vendors, one rule per function.

Why a module of its own: the vendor documents are ambiguous about several details of
their signatures (see docs/vendors.md). Each choice lives in one small
function whose docstring names it, so that when a real server disagrees the fix is one
line here and nothing else moves.

Nothing in this module logs, and no function returns the secret or a string that
contains it; the signing input is built and hashed inside one expression.
"""

from __future__ import annotations

import hashlib
import json
from typing import Mapping
from urllib.parse import urlencode

from reconciler.model import AUTH_PLACES, UnisoundAuth

# --------------------------------------------------------------------------- Xingyun


def xingyun_sort_json(data: Mapping) -> str:
    """The ``sort_json_str`` of the Xingyun recipe.

    Choice: exactly Python's ``json.dumps(dict(data), sort_keys=True).replace(' ', '')``,
    with the default ``ensure_ascii=True`` (Chinese becomes ``\\uXXXX``). The
    ``replace`` also deletes spaces inside string values; that is what the vendor's own
    demo does, so the server computes the same."""
    return json.dumps(dict(data), sort_keys=True).replace(" ", "")


def xingyun_body(data: Mapping) -> bytes:
    """The bytes sent as the JSON body of a signed Xingyun POST.

    Choice: the normal ``json.dumps`` of the same dict that was signed (spaces kept,
    ``ensure_ascii=True``), serialised once and sent as-is with
    ``Content-Type: application/json``; only the signed string loses its spaces."""
    return json.dumps(dict(data)).encode("ascii")


def xingyun_get_path(api_path: str, query: Mapping[str, object]) -> str:
    """The path of a signed Xingyun GET, query included.

    Choice: the query is part of the signed ``api_path``
    (``/user/v1/video_synthesis_task/get_render_task?task_id=135``), as in step 1 of
    the document and in a production client; see ``xingyun_get_sign_data``."""
    return f"{api_path}?{urlencode(query)}" if query else api_path


def xingyun_get_sign_data(query: Mapping[str, object]) -> dict:
    """The ``data`` signed for a Xingyun GET.

    Choice: ``{}`` (the query travels in the signed path instead). The document's last
    demo lines hint at ``{"task_id": ...}``; change this one line if a server wants it."""
    return {}


def xingyun_multipart_sign_data() -> dict:
    """The ``data`` signed for ``parse_ppt_file``.

    Choice: ``{}``: the document says the ``ppt_file`` part is not signed, and its demo
    signs ``data = {}``."""
    return {}


def xingyun_token(api_path: str, method: str, data: Mapping, secret: str, timestamp: int) -> str:
    """``X-TOKEN``: md5 hex (lower case) of
    ``lower(api_path) + lower(method) + sort_json_str + secret + str(timestamp)``.

    ``timestamp`` is in seconds (valid 60 s at the server). The signing input contains
    the secret, so it is never bound to a name, logged or returned."""
    return hashlib.md5(
        (api_path.lower() + method.lower() + xingyun_sort_json(data) + secret + str(int(timestamp))).encode("utf-8")
    ).hexdigest()


def xingyun_headers(app_id: str, secret: str, api_path: str, method: str, data: Mapping, timestamp: int) -> dict:
    """The three auth headers of a Xingyun call: ``X-APP-ID``, ``X-TIMESTAMP``, ``X-TOKEN``."""
    return {
        "X-APP-ID": app_id,
        "X-TIMESTAMP": str(int(timestamp)),
        "X-TOKEN": xingyun_token(api_path, method, data, secret, timestamp),
    }


# --------------------------------------------------------------------------- Unisound


def unisound_signature(appkey: str, timestamp_ms: int, secret: str) -> str:
    """``signature``: SHA-256 hex, UPPER case, of ``appKey + timestamp + secret``
    (in that order, timestamp in milliseconds), as the document's Java sample does."""
    return hashlib.sha256((appkey + str(int(timestamp_ms)) + secret).encode("utf-8")).hexdigest().upper()


# The spellings seen for each value: the document's table (first), then this vendor's
# other public APIs (long-text TTS sends appkey/time/sign in the JSON body).
AUTH_SPELLINGS = {"appkey": ("appKey", "appkey"), "timestamp": ("timestamp", "time"),
                  "signature": ("signature", "sign")}


def unisound_auth_candidates() -> list[UnisoundAuth]:
    """Every placement and spelling worth trying (the default first); in headers the
    case of ``appKey`` does not matter, so each header spelling is tried once."""
    out, seen = [], set()
    for place in AUTH_PLACES:
        for appkey in AUTH_SPELLINGS["appkey"]:
            for ts in AUTH_SPELLINGS["timestamp"]:
                for sig in AUTH_SPELLINGS["signature"]:
                    key = (place, appkey.lower() if place == "header" else appkey, ts, sig)
                    if key not in seen:
                        seen.add(key)
                        out.append(UnisoundAuth(place, appkey, ts, sig))
    return out


def unisound_auth_values(appkey: str, secret: str, timestamp_ms: int,
                         auth: UnisoundAuth = UnisoundAuth()) -> dict[str, str]:
    """The three Unisound auth values under the names of ``auth``; where they go (query,
    JSON body or headers) is ``auth.place``, applied by the provider."""
    return {
        auth.appkey: appkey,
        auth.timestamp: str(int(timestamp_ms)),
        auth.signature: unisound_signature(appkey, timestamp_ms, secret),
    }


def unisound_body(data: Mapping) -> bytes:
    """The JSON body of a Unisound call: UTF-8 JSON (the document's character set)."""
    return json.dumps(dict(data), ensure_ascii=False).encode("utf-8")
