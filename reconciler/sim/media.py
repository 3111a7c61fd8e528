"""The bytes a finished render serves: a real MP4 per task and a cover image.

Every task's video is the committed 2 s clip ``base.mp4`` (see make_base.py) with one
more top-level ``free`` box appended that names the vendor, task and request
fingerprint. A ``free`` box is ignored by every demuxer, so the file stays a valid,
playable MP4 while its bytes (and sha256) differ between tasks. No ffmpeg at runtime.
The cover is a tiny PNG written with zlib, its colour derived from the task id.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import struct
import zlib
from importlib import resources


@functools.lru_cache(maxsize=1)
def base_clip() -> bytes:
    return resources.files("reconciler.sim").joinpath("base.mp4").read_bytes()


def free_box(payload: bytes) -> bytes:
    """An ISO-BMFF ``free`` box (32-bit size + type + payload)."""
    return struct.pack(">I", 8 + len(payload)) + b"free" + payload


def task_video(vendor: str, task_id: str, fingerprint: str) -> bytes:
    tag = json.dumps({"sim": "reconciler", "vendor": vendor, "task_id": task_id,
                      "fingerprint": fingerprint}, sort_keys=True).encode()
    return base_clip() + free_box(tag)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def task_cover(vendor: str, task_id: str, width: int = 64, height: int = 36) -> bytes:
    """A valid RGB PNG of one colour per task."""
    r, g, b = hashlib.sha256(f"{vendor}/{task_id}".encode()).digest()[:3]
    row = b"\x00" + bytes((r, g, b)) * width
    raw = row * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw, 9)) + _png_chunk(b"IEND", b""))


def preview_page(title: str, state: str, video_url: str | None, image_url: str | None) -> bytes:
    """The page behind Xingyun's ``preview_url``."""
    t = html.escape(title)
    if video_url:
        body = (f'<video controls src="{html.escape(video_url)}" poster="{html.escape(image_url or "")}">'
                "</video>")
    else:
        body = f"<p>render state: {html.escape(state)}</p>"
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>"
            f"<body><h1>{t}</h1>{body}</body></html>").encode()
