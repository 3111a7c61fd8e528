"""Parts joined in order into one MP4 (docs/parts.md: renders by parts).

Why not a plain concat: copying both streams of H.264 + AAC parts end to end breaks
at every join (each part's AAC starts with encoder priming, so the audio timestamps
run backwards by 256-896 samples there: a click, then drift). So:

- the video stream is copied packet for packet when every part has the same codec
  parameters (codec, size, pixel format, time base, sample aspect ratio and the
  codec's own header bytes, which hold H.264's SPS/PPS), each part's timestamps
  shifted to start where the previous part ended; otherwise every frame is decoded
  and encoded again (H.264) at the first part's size and rate;
- the audio is decoded and encoded once (AAC), each part's audio fitted to the
  part's duration (cut, or padded with silence, also where a part has none), so the
  joined duration is the sum of the parts' durations and the audio and video end
  together (within one frame).

A part's duration is its video stream's, as its index gives it (``verify.probe``
measures the same). The result is written atomically (``util.atomic``: temp, fsync,
rename), so a published video is never replaced by half a join.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from reconciler.errors import MediaError
from reconciler.media import libav
from reconciler.util.atomic import Replacement

AUDIO_FRAME = 1024  # samples per AAC frame
AUDIO_RATE = 48_000  # when no part has audio
# FFmpeg's "fast" AAC coder: 2.5x less CPU than its default (twoloop) for the same bit rate; speech
# at 96-128 kbit/s loses nothing a listener hears (bench/media_join.py)
AAC_OPTIONS = {"aac_coder": "fast"}
REENCODE_TIME_BASE = Fraction(1, 90_000)


@dataclass(frozen=True)
class Joined:
    """What a join made: its duration (the sum of the parts'), where each part starts
    in it, and whether the video stream was copied (True) or encoded again."""

    duration_s: float
    starts_s: tuple[float, ...]
    video_copied: bool


@dataclass(frozen=True)
class _Part:
    path: Path
    duration: int  # in the part's video time base
    time_base: Fraction
    key: tuple  # the codec parameters that must agree for a copy

    @property
    def duration_s(self) -> float:
        return float(self.duration * self.time_base)


def join(parts: Sequence[Path | str], dest: Path | str) -> Joined:
    """Join the MP4 files ``parts`` (verified: ``verify.probe``) in order into ``dest``,
    replaced atomically. ``MediaError`` naming the part when one is not a video with a
    duration; ``OSError`` when a file cannot be read or written (a local problem)."""
    if not parts:
        raise MediaError(dest, "nothing to join: no parts")
    av = libav.load()
    with libav.job():
        infos = [_describe(av, Path(p)) for p in parts]
        copy = all(info.key == infos[0].key for info in infos)
        with Replacement(Path(dest), suffix=".mp4.tmp") as out:
            try:
                starts = _write(av, infos, out.tmp, copy)
            except av.FFmpegError as exc:
                raise MediaError(dest, f"the join failed: {libav.describe(exc)}") from None
    return Joined(duration_s=sum(info.duration_s for info in infos), starts_s=starts, video_copied=copy)


def _describe(av, path: Path) -> _Part:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(path, "no video stream: cannot be joined")
            video = container.streams.video[0]
            ctx = video.codec_context
            duration = video.duration
            if not duration:
                raise MediaError(path, "the video has no duration: cannot be joined")
            key = (ctx.name, ctx.width, ctx.height, ctx.format.name if ctx.format else None, video.time_base,
                   ctx.sample_aspect_ratio, bytes(ctx.extradata or b""))
            return _Part(path=path, duration=duration, time_base=video.time_base, key=key)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise  # a part that cannot be read (missing, permissions): a local problem, not bad media
        raise MediaError(path, f"does not open: {libav.describe(exc)}") from None


def _write(av, infos: list[_Part], tmp: Path, copy: bool) -> tuple[float, ...]:
    rate, layout = _audio_shape(av, infos)
    starts: list[float] = []
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(str(infos[0].path)) as first:
            video_out = (out.add_stream_from_template(first.streams.video[0]) if copy
                         else _video_encoder(out, first.streams.video[0]))
        audio_out = out.add_stream("aac", rate=rate, layout=layout, options=dict(AAC_OPTIONS))
        audio_out.bit_rate = 128_000 if layout == "stereo" else 96_000
        audio = _AudioJoin(av, out, audio_out, rate, layout)
        encoder = None if copy else _VideoEncode(out, video_out)
        elapsed = Fraction(0)  # seconds of video written before this part
        for info in infos:
            starts.append(float(elapsed))
            audio.start_part(elapsed, elapsed + Fraction(info.duration) * info.time_base)
            with av.open(str(info.path)) as part:
                video = part.streams.video[0]
                part_audio = part.streams.audio[0] if part.streams.audio else None
                if not copy:
                    video.thread_type = "AUTO"
                streams = [video] + ([part_audio] if part_audio is not None else [])
                for packet in part.demux(*streams):
                    if packet.stream is video:
                        if copy:
                            _copy_packet(out, video_out, packet, elapsed, info.time_base)
                        else:
                            encoder.encode(packet.decode(), elapsed)
                    else:
                        audio.feed(packet.decode())
            audio.end_part()
            elapsed += Fraction(info.duration) * info.time_base
        if encoder is not None:
            encoder.finish()
        audio.finish()
    return tuple(starts)


def _audio_shape(av, infos: list[_Part]) -> tuple[int, str]:
    """The first part's audio rate and layout (mono or stereo), for the one encode."""
    for info in infos:
        with av.open(str(info.path)) as container:
            if container.streams.audio:
                ctx = container.streams.audio[0].codec_context
                return ctx.sample_rate or AUDIO_RATE, "mono" if ctx.layout.nb_channels == 1 else "stereo"
    return AUDIO_RATE, "stereo"


def _copy_packet(out, stream, packet, elapsed: Fraction, time_base: Fraction) -> None:
    if packet.dts is None and packet.pts is None:
        return  # the demuxer's end-of-stream marker
    shift = int(elapsed / time_base)  # exact: every part's duration is a whole number of ticks
    if packet.pts is not None:
        packet.pts += shift
    if packet.dts is not None:
        packet.dts += shift
    packet.stream = stream
    out.mux(packet)


def _video_encoder(out, template):
    rate = template.average_rate or template.guessed_rate or 25
    stream = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
    stream.width = template.codec_context.width // 2 * 2
    stream.height = template.codec_context.height // 2 * 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = REENCODE_TIME_BASE
    stream.codec_context.time_base = REENCODE_TIME_BASE
    return stream


class _VideoEncode:
    """Every part's frames encoded again on one timeline. Each packet gets the duration
    of its frame (FFmpeg before 8 leaves it out of libx264's packets, and the last one
    is where the video ends)."""

    def __init__(self, out, stream):
        self.out, self.stream = out, stream
        self.durations: dict[int, int] = {}  # pts -> duration of the frames in the encoder

    def encode(self, frames, elapsed: Fraction) -> None:
        for frame in frames:
            if frame.pts is None:
                continue
            start = elapsed + Fraction(frame.pts) * frame.time_base
            picture = frame.reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
            picture.pts = round(start / REENCODE_TIME_BASE)
            picture.time_base = REENCODE_TIME_BASE
            picture.duration = round(Fraction(frame.duration or 0) * frame.time_base / REENCODE_TIME_BASE)
            self.durations[picture.pts] = picture.duration
            self._mux(self.stream.encode(picture))

    def finish(self) -> None:
        self._mux(self.stream.encode(None))

    def _mux(self, packets) -> None:
        for packet in packets:
            duration = self.durations.pop(packet.pts, 0)
            if not packet.duration:
                packet.duration = duration
            self.out.mux(packet)


class _AudioJoin:
    """One AAC encode of every part's audio, each fitted to its part's span of the
    joined timeline (``start_part``): samples past its end are dropped, a late start,
    a hole or a short tail is filled with silence. Sample positions are rounded from
    the exact part boundaries, so rounding never accumulates into drift."""

    def __init__(self, av, out, stream, rate: int, layout: str):
        self.av, self.out, self.stream = av, out, stream
        self.rate, self.layout = rate, layout
        self.sample_bytes = 4 * (1 if layout == "mono" else 2)  # packed 32-bit float
        self.pending = bytearray()  # samples not yet encoded (less than one AAC frame)
        self.encoded = 0  # samples handed to the encoder
        self.written = 0  # samples of the joined audio so far (encoded + pending)
        self.part_start = self.part_end = 0
        self.resampler = None

    def start_part(self, start: Fraction, end: Fraction) -> None:
        self.part_start, self.part_end = round(start * self.rate), round(end * self.rate)
        self.resampler = self.av.AudioResampler(format="flt", layout=self.layout, rate=self.rate)

    def feed(self, frames) -> None:
        for frame in frames:
            if frame.time is not None:
                self._silence_until(self.part_start + round(frame.time * self.rate))
            for chunk in self.resampler.resample(frame):
                self._add(bytes(chunk.planes[0])[:chunk.samples * self.sample_bytes])

    def end_part(self) -> None:
        for chunk in self.resampler.resample(None):
            self._add(bytes(chunk.planes[0])[:chunk.samples * self.sample_bytes])
        self._silence_until(self.part_end)

    def finish(self) -> None:
        self._encode(final=True)
        for packet in self.stream.encode(None):
            self.out.mux(packet)

    def _silence_until(self, sample: int) -> None:
        if sample > self.written:
            self._add(bytes((sample - self.written) * self.sample_bytes))

    def _add(self, data: bytes) -> None:
        room = max(0, self.part_end - self.written) * self.sample_bytes
        data = data[:room]
        self.pending += data
        self.written += len(data) // self.sample_bytes
        self._encode(final=False)

    def _encode(self, *, final: bool) -> None:
        """Encode the pending samples in whole AAC frames (the last one short, when ``final``)."""
        size = AUDIO_FRAME * self.sample_bytes
        while len(self.pending) >= size or (final and self.pending):
            data = bytes(self.pending[:size])
            del self.pending[:size]
            samples = len(data) // self.sample_bytes
            frame = self.av.AudioFrame(format="flt", layout=self.layout, samples=samples)
            frame.sample_rate = self.rate
            frame.planes[0].update(data + bytes(frame.planes[0].buffer_size - len(data)))
            frame.pts, frame.time_base = self.encoded, Fraction(1, self.rate)
            self.encoded += samples
            for packet in self.stream.encode(frame):
                self.out.mux(packet)
