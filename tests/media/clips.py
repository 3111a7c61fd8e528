"""Real small H.264 + AAC MP4 clips made with PyAV, for the media tests and bench.

Each clip is what a vendor sends in miniature: a moving picture (a sliding ramp whose
colour changes every frame, so every frame is its own packet with real residual data)
and a tone, of an exact length. A 2 s 320x180 clip takes ~0.05 s to make. ``damage``
keeps every box intact and overwrites media bytes of packets in the middle of ``mdat``: a file
that ``util.mp4`` accepts and a decoder does not.
"""

from __future__ import annotations

import array
import math
import struct
from fractions import Fraction
from pathlib import Path

import av

_RAMP = bytes(range(256)) * 16


def make_clip(path: Path, duration_s: float = 2.0, *, width: int = 320, height: int = 180, fps: int = 25,
              audio: bool = True, video: bool = True, rate: int = 48000, layout: str = "mono",
              bframes: int = 0, preset: str = "ultrafast", audio_s: float | None = None) -> Path:
    """Write an MP4 of ``duration_s`` (rounded to whole frames) at ``path``: H.264 at
    ``fps``, ``width``x``height``, with ``bframes`` B-frames; an AAC tone (of ``audio_s``
    seconds when given: longer or shorter than the video) unless not ``audio``.
    ``video=False`` makes an audio-only MP4."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as out:
        if video:
            vs = out.add_stream("libx264", rate=fps, options={"preset": preset, "x264-params": f"bframes={bframes}"})
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if audio:
            stream = out.add_stream("aac", rate=rate, layout=layout)
        if video:
            for i in range(round(duration_s * fps)):
                for packet in vs.encode(_picture(i, width, height, fps)):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
        if audio:
            _tone(out, stream, duration_s if audio_s is None else audio_s, rate, layout)
    return path


def _picture(i: int, width: int, height: int, fps: int):
    frame = av.VideoFrame(width, height, "yuv420p")
    luma = frame.planes[0]
    shift = (3 * i) % 256
    luma.update(b"".join(_RAMP[(row + shift) % 256:(row + shift) % 256 + luma.line_size] for row in range(height)))
    frame.planes[1].update(bytes([16 + (5 * i) % 225]) * frame.planes[1].buffer_size)  # in TV range (16-240)
    frame.planes[2].update(bytes([240 - (7 * i) % 225]) * frame.planes[2].buffer_size)
    frame.pts, frame.time_base = i, Fraction(1, fps)
    return frame


def _tone(out, stream, duration_s: float, rate: int, layout: str) -> None:
    """A tone of rate/128 Hz (375 Hz at 48 kHz): one 1024-sample block, repeated."""
    channels = 2 if layout == "stereo" else 1
    block = array.array("f", (0.3 * math.sin(2 * math.pi * j / 128) for j in range(1024) for _ in range(channels)))
    data = block.tobytes()
    total, pos = round(duration_s * rate), 0
    while pos < total:
        n = min(1024, total - pos)
        frame = av.AudioFrame(format="flt", layout=layout, samples=n)
        frame.sample_rate = rate
        frame.planes[0].update(data[:4 * channels * n])
        frame.pts, frame.time_base = pos, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        pos += n
    for packet in stream.encode():
        out.mux(packet)


def make_empty(path: Path) -> Path:
    """An MP4 whose only track is a video track without one frame."""
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 180, "yuv420p"
        out.start_encoding()
    return Path(path)


def make_zero_duration(path: Path) -> Path:
    """A video-only clip whose index says it lasts nothing: every duration field of its
    ``moov`` (movie, track, media, edit list, sample times) set to 0."""
    make_clip(path, 1.0, audio=False)
    data = bytearray(Path(path).read_bytes())

    def zero(kind: bytes, offset: int) -> None:
        at = data.find(kind)
        if at > 0:
            assert data[at + 4] == 0, f"{kind!r} is not a version 0 box"
            data[at + offset:at + offset + 4] = bytes(4)

    for kind, offset in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20), (b"elst", 12), (b"stts", 16)):
        zero(kind, offset)
    Path(path).write_bytes(bytes(data))
    return Path(path)


def boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level MP4 boxes: kind -> (offset, size)."""
    found, pos = {}, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        found[kind] = (pos, size)
        pos += size
    return found


def damage(path: Path, *, stream: str = "video", spots: int = 3) -> Path:
    """Overwrite the bytes of ``spots`` packets of ``stream`` (``video`` or ``audio``) in
    the middle of the clip, past each packet's first 8 bytes, with a fixed pattern:
    every box header stays as it was (``util.mp4`` accepts the file), the media does
    not decode."""
    with av.open(str(path)) as container:
        chosen = getattr(container.streams, stream)[0]
        packets = [(p.pos, p.size) for p in container.demux(chosen) if p.size and p.pos is not None]
    data = bytearray(Path(path).read_bytes())
    mdat_at, mdat_size = boxes(bytes(data))[b"mdat"]
    middle = packets[len(packets) // 3: 2 * len(packets) // 3] or packets
    for pos, size in middle[:: max(1, len(middle) // spots)][:spots]:
        assert mdat_at < pos and pos + size <= mdat_at + mdat_size
        data[pos + 8:pos + size] = bytes((i * 151 + 89) % 251 for i in range(size - 8))
    Path(path).write_bytes(bytes(data))
    return Path(path)
