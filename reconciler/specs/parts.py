"""A video rendered by parts (docs/parts.md): which parts, their request bodies, and
the fingerprints that decide which part is rendered again.

``split: segments`` (Xingyun): each ``segment`` item is a render of its own, with the
video's look, voice and studio. ``split: sentences`` (either vendor): the script is cut
at sentence ends (``media.script.split_sentences``); a Xingyun segment's sentences keep
its ``media_url``. A part's request body is the video's with only that part's text (and
media), so its fingerprint is exactly the one a whole video with that one text would
have: the render cache serves either from the other. The video's fingerprint is made
of its parts' in order; a video without ``split`` keeps its own fingerprint, unchanged.
"""

from __future__ import annotations

import hashlib

from reconciler.media.script import split_sentences
from reconciler.specs import schema
from reconciler.specs.fingerprint import canonical_json, fingerprint

SPLITS = ("none", "segments", "sentences")
CAPTIONS = ("srt", "vtt")


def split_problem(video: dict) -> str | None:
    """Why a validated video's ``split`` cannot be used; None if fine."""
    split = video.get("split", "none")
    if split == "none":
        return None
    if video["provider"] == "xingyun" and video.get("segment") is None:
        return f"split: {split} needs a `segment` list (a ppt_file video is rendered whole)"
    if split == "segments" and video["provider"] != "xingyun":
        return "split: segments is for Xingyun's `segment` list; a Unisound script is cut with split: sentences"
    return None


def part_requests(provider: str, request: dict, split: str) -> list[dict]:
    """The request body of each part of a video, in order ([] without ``split``)."""
    if split == "none":
        return []
    if provider == "xingyun":
        segments = [dict(s) for s in request.get("segment") or ()]
        if split == "sentences":
            segments = [{**s, "text": sentence} for s in segments for sentence in split_sentences(s["text"])]
        return [{**request, "segment": [s]} for s in segments]
    return [{**request, "text": sentence} for sentence in split_sentences(request["text"])]


def parts_of(provider: str, request: dict, split: str) -> tuple[tuple[str, int], ...]:
    """Each part's (render fingerprint, characters of speech), in order."""
    return tuple((fingerprint(provider, body, None), schema.tts_chars(body))
                 for body in part_requests(provider, request, split))


def video_fingerprint(provider: str, split: str, parts: tuple[tuple[str, int], ...]) -> str:
    """The fingerprint of a video by parts: its parts' fingerprints in order."""
    doc = {"provider": provider, "split": split, "parts": [fp for fp, _ in parts]}
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()
