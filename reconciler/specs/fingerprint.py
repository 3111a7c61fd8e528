"""The render fingerprint: what decides whether a video must be rendered again.

A fingerprint is the sha256 of the canonical JSON of exactly what the vendor receives
(provider + request body) plus the sha256 of the PPT deck, if any. Everything else
(labels, prevent_destroy, formatting, key order, comments, which file or template a
video came from) is left out by construction: callers pass only the request body that
``reconciler.specs.schema`` built, with its defaults made explicit, so writing a default
value out does not change it either.
"""

from __future__ import annotations

import hashlib
import json

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj) -> str:
    """JSON with sorted keys, no whitespace, unicode kept as is (stable across runs)."""
    return _ENCODER.encode(obj)


def fingerprint(provider: str, request: dict, ppt_sha256: str | None) -> str:
    """sha256 hex of ``{"provider", "request", "ppt_sha256"}`` in canonical JSON."""
    doc = {"provider": provider, "request": request, "ppt_sha256": ppt_sha256}
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()
