"""The bytes a finished render serves: a real MP4 per task and a cover image.

A task's video is a real H.264 + AAC clip (made with PyAV, imported on first use) whose
length follows the text the render was asked to speak, as a vendor's does:
``spoken_seconds`` gives 0.25 s per CJK character and 0.06 s per other non-space
character (markup such as Unisound's ``<mute .../>`` tags is not spoken), at least
``FLOOR_S``, at most ``CAP_S``, rounded up to a multiple of ``STEP_S``. Clips are tiny
(``WIDTH`` x ``HEIGHT`` at ``FPS``, a moving ramp and a tone) and made once per length
per process (``clip``), so a download costs a few milliseconds. Each task's bytes are
that clip with one more top-level ``free`` box appended naming the vendor, task and
request fingerprint: a ``free`` box is ignored by every demuxer, so the file stays a
valid, playable MP4 while its bytes (and sha256) differ between tasks.

``damage`` (the ``damaged`` download fault, faults.py) overwrites the media bytes of a
few video packets in ``mdat`` and leaves every box as it was: a file shaped like an MP4
that does not decode. The cover is a tiny PNG written with zlib, its colour derived from
the task id.
"""

from __future__ import annotations

import array
import functools
import hashlib
import html
import io
import json
import math
import re
import struct
import threading
import zlib
from fractions import Fraction

WIDTH, HEIGHT, FPS = 160, 90, 10
AUDIO_RATE = 16000
FLOOR_S, CAP_S, STEP_S = 1.0, 60.0, 0.5
CJK_S, OTHER_S = 0.25, 0.06  # seconds per spoken character
SLIDE_S = 3.0  # a PPT render (its text is in the deck, not the request): per slide

_MARKUP = re.compile(r"<[^>]*>")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LOCK = threading.Lock()  # one clip made at a time: PyAV's encoders are not shared, the cache is


def quantize(seconds: float) -> float:
    """``seconds`` within [FLOOR_S, CAP_S], rounded up to a multiple of STEP_S."""
    steps = math.ceil(round(seconds / STEP_S, 6))
    return min(CAP_S, max(FLOOR_S, steps * STEP_S))


def spoken_seconds(texts: list[str]) -> float:
    """How long a render speaking ``texts`` lasts (quantized)."""
    spoken = "".join(_MARKUP.sub("", t) for t in texts)
    cjk = len(_CJK.findall(spoken))
    other = sum(1 for ch in spoken if not ch.isspace()) - cjk
    return quantize(cjk * CJK_S + other * OTHER_S)


def request_seconds(request: dict, slides: int | None = None) -> float:
    """The length of the video a create request renders: from its segments' text
    (Xingyun), its ``text`` (Unisound), or ``SLIDE_S`` per slide of its deck."""
    if isinstance(request.get("text"), str):
        return spoken_seconds([request["text"]])
    segments = request.get("segment")
    if isinstance(segments, list):
        return spoken_seconds([s.get("text") or "" for s in segments if isinstance(s, dict)])
    return quantize(SLIDE_S * (slides or 1))


@functools.lru_cache(maxsize=64)
def clip(seconds: float) -> bytes:
    """The MP4 of ``seconds`` (a quantized length): H.264 ``WIDTH`` x ``HEIGHT`` at ``FPS``
    and an AAC tone of the same length. The same bytes for the same length in every
    process (one encoder thread, no timestamps written), so tests can predict a download."""
    import av  # only a served download pays for PyAV

    frames = round(seconds * FPS)
    buf = io.BytesIO()
    with _LOCK, av.open(buf, "w", format="mp4", container_options={"fflags": "+bitexact"}) as out:
        video = out.add_stream("libx264", rate=FPS, options={
            "preset": "ultrafast", "threads": "1", "x264-params": "bframes=0:keyint=50"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.flags |= av.codec.context.Flags.bitexact
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono", options={"aac_coder": "fast", "b": "24k"})
        audio.codec_context.flags |= av.codec.context.Flags.bitexact
        for i in range(frames):
            out.mux(video.encode(_picture(av, i)))
        out.mux(video.encode())
        _tone(av, out, audio, frames / FPS)
    return buf.getvalue()


_RAMP = bytes(range(256)) * 2


def _picture(av, i: int):
    """Frame ``i``: a sliding ramp whose colour changes every frame (real residual data
    in every packet, so damage to any of them shows)."""
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    luma = frame.planes[0]
    shift = (3 * i) % 256
    luma.update(b"".join(_RAMP[(row + shift) % 256:(row + shift) % 256 + luma.line_size] for row in range(HEIGHT)))
    frame.planes[1].update(bytes([16 + (5 * i) % 225]) * frame.planes[1].buffer_size)
    frame.planes[2].update(bytes([240 - (7 * i) % 225]) * frame.planes[2].buffer_size)
    frame.pts, frame.time_base = i, Fraction(1, FPS)
    return frame


def _tone(av, out, stream, duration_s: float) -> None:
    """A 500 Hz tone of exactly ``duration_s``."""
    block = array.array("f", (0.3 * math.sin(2 * math.pi * j / 32) for j in range(1024))).tobytes()
    total, pos = round(duration_s * AUDIO_RATE), 0
    while pos < total:
        n = min(1024, total - pos)
        frame = av.AudioFrame(format="flt", layout="mono", samples=n)
        frame.sample_rate = AUDIO_RATE
        frame.planes[0].update(block[:4 * n])
        frame.pts, frame.time_base = pos, Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
        pos += n
    out.mux(stream.encode())


def base_clip() -> bytes:
    """The 2 s clip (what tests use as "a real MP4")."""
    return clip(2.0)


def free_box(payload: bytes) -> bytes:
    """An ISO-BMFF ``free`` box (32-bit size + type + payload)."""
    return struct.pack(">I", 8 + len(payload)) + b"free" + payload


def task_video(vendor: str, task_id: str, fingerprint: str, seconds: float) -> bytes:
    """The bytes a task's video link serves: the clip of ``seconds`` plus a ``free`` box
    naming the task."""
    tag = json.dumps({"sim": "reconciler", "vendor": vendor, "task_id": task_id,
                      "fingerprint": fingerprint}, sort_keys=True).encode()
    return clip(quantize(seconds)) + free_box(tag)


def _boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    found, pos = {}, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size < 8:
            break
        found.setdefault(kind, (pos, size))
        pos += size
    return found


def damage(data: bytes) -> bytes:
    """``data`` (a served MP4) with the media bytes of its first video packet (the key
    frame) and of a few later ones overwritten by a fixed pattern, past each packet's
    first 8 bytes: every box keeps its size and place, nothing decodes cleanly."""
    import av

    with _LOCK, av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        packets = [(p.pos, p.size) for p in container.demux(stream) if p.size and p.pos is not None]
    mdat_at, mdat_size = _boxes(data)[b"mdat"]
    chosen = [packets[0]] + packets[len(packets) // 3:: max(1, len(packets) // 4)][:3]
    out = bytearray(data)
    for pos, size in chosen:
        if mdat_at < pos and pos + size <= mdat_at + mdat_size and size > 8:
            out[pos + 8:pos + size] = bytes((i * 151 + 89) % 251 for i in range(size - 8))
    return bytes(out)
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
