"""Is this file a video that plays? A full decode, not a look at the boxes (docs/parts.md).

Why: a download is published only when it decodes. ``util.mp4`` proves a file is shaped
like an MP4 (no HTML error page, no cut-off transfer) by reading a few box headers;
a file with the right boxes can still hold damaged media, so ``probe`` decodes every
video and audio frame and listens to FFmpeg's log while doing it (``libav.job``):
a decoder that conceals damage still logs it. What it measures (duration, size, codec,
frame count) is what the manifest, the join and the captions need.

A file that fails is a ``MediaError`` whose ``reason`` a person can read ("no video
stream", "frame data is damaged (h264: error while decoding MB 7 1)"); an ``OSError``
(the file cannot be read) is left to the caller: a local problem, not bad bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import MediaError
from reconciler.media import libav
from reconciler.util import mp4


@dataclass(frozen=True)
class MediaInfo:
    """What a verified video is: its length in seconds (the video stream's), frame size,
    video codec name (``h264``), whether it has an audio stream, and its frame count."""

    duration_s: float
    width: int
    height: int
    video_codec: str
    audio: bool
    frames: int


def probe(path: Path | str) -> MediaInfo:
    """Decode every frame of the MP4 at ``path`` and measure it; ``MediaError`` with the
    reason when it has no video stream, no duration, or anything fails to decode."""
    path = Path(path)
    problem = mp4.problem(path)
    if problem:
        raise MediaError(path, f"not an MP4 video: {problem}")
    av = libav.load()
    with libav.job() as logs:
        try:
            with av.open(str(path)) as container:
                return _decode_all(path, container, logs)
        except av.FFmpegError as exc:
            raise MediaError(path, f"does not decode: {libav.describe(exc)}") from None


def _decode_all(path: Path, container, logs) -> MediaInfo:
    if not container.streams.video:
        raise MediaError(path, "no video stream")
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    audio = container.streams.audio[0] if container.streams.audio else None
    streams = [video] + ([audio] if audio is not None else [])
    frames = width = height = 0
    for packet in container.demux(*streams):
        for frame in packet.decode():
            if packet.stream is video:
                frames += 1
                width, height = frame.width, frame.height
        if logs:  # named by the decoder that logged it (a threaded decoder may log a packet late)
            component = logs[0][1]
            kind = ("video" if component == video.codec_context.name
                    else "audio" if audio is not None and component == audio.codec_context.name else "media")
            raise MediaError(path, f"{kind} data is damaged ({libav.first_error(logs)})")
    duration = _duration_s(video, container)
    if duration <= 0:
        raise MediaError(path, "the video has no duration")
    if frames == 0:
        raise MediaError(path, "the video stream has no frames")
    declared = video.frames
    if declared and frames < declared:
        raise MediaError(path, f"only {frames} of {declared} video frames decode")
    return MediaInfo(duration_s=duration, width=width, height=height, video_codec=video.codec_context.name,
                     audio=audio is not None, frames=frames)


def _duration_s(video, container) -> float:
    """The video stream's length as its index gives it, else the container's."""
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0
