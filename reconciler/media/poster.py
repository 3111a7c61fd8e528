"""A video's poster: one JPEG frame, for the gallery (docs/parts.md).

The frame shown at 1 s (a talking head has settled by then; the first frame is often
a fade or a blink), or the first frame of a shorter video, at the video's own size.
Encoded with FFmpeg's MJPEG encoder through PyAV (no image library needed) and
written atomically (``util.atomic``), so a gallery never links a half-written file.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from reconciler.errors import MediaError
from reconciler.media import libav
from reconciler.util.atomic import atomic_write_bytes

POSTER_AT_S = 1.0


def write_poster(video: Path | str, dest: Path | str, *, at_s: float = POSTER_AT_S) -> tuple[int, int]:
    """Write the frame at ``at_s`` seconds of ``video`` (or its first frame, when the
    video is shorter) to ``dest`` as a JPEG; return its ``(width, height)``.
    ``MediaError`` when the video has no frame that decodes."""
    av = libav.load()
    with libav.job():
        try:
            with av.open(str(video)) as container:
                frame = _frame_at(container, at_s)
                if frame is None:
                    raise MediaError(video, "no video frame to make a poster from")
                data = _jpeg(av, frame)
        except av.FFmpegError as exc:
            raise MediaError(video, f"does not decode: {libav.describe(exc)}") from None
    atomic_write_bytes(Path(dest), data)
    return frame.width, frame.height


def _frame_at(container, at_s: float):
    """The first frame shown at or after ``at_s``; the first frame if none is."""
    if not container.streams.video:
        return None
    first = None
    for frame in container.decode(container.streams.video[0]):
        if first is None:
            first = frame
        if frame.time is not None and frame.time >= at_s - 1e-6:
            return frame
    return first


def _jpeg(av, frame) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qmin": "2", "qmax": "4"}  # a sharp still: a poster is looked at, and small anyway
    packets = encoder.encode(frame.reformat(format="yuvj420p")) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)
