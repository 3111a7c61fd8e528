"""Parts joined in order into one MP4 (docs/parts.md): the video copied where the parts
share their codec parameters (else encoded again), the audio encoded once with each
part's audio fitted to the part, so that the joined duration is the sum of the parts'
and audio and video end together, and the result decodes fully."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from reconciler.errors import MediaError
from reconciler.media.join import join
from reconciler.media.verify import probe
from tests.media.clips import make_clip

FPS = 25
FRAME = 1 / FPS


def stream_ends(path) -> tuple[float, float]:
    """Where the video and the audio stream end (last packet's pts + duration), seconds.
    (FFmpeg 7's demuxer gives no packet durations for a file with an edit list: there, a
    video packet lasts one frame at the stream's rate.)"""
    ends = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is None:
                continue
            duration = packet.duration * packet.time_base
            if not duration and packet.stream.type == "video":
                duration = 1 / Fraction(packet.stream.average_rate)
            kind = packet.stream.type
            ends[kind] = max(ends.get(kind, Fraction(0)), packet.pts * packet.time_base + duration)
    return float(ends["video"]), float(ends["audio"])


def decoded_samples(path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)), stream.codec_context.sample_rate


def video_payloads(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def assert_joined(dest, parts, durations):
    total = sum(durations)
    info = probe(dest)  # decodes every frame of the result
    assert info.frames == sum(probe(p).frames for p in parts)
    assert abs(info.duration_s - total) <= FRAME
    video_end, audio_end = stream_ends(dest)
    assert abs(video_end - total) <= FRAME
    assert abs(audio_end - video_end) <= FRAME
    samples, rate = decoded_samples(dest)
    assert abs(samples / rate - total) <= FRAME  # what a player hears, not only what the index says
    return info


@pytest.mark.parametrize("bframes", [0, 2])
def test_parts_with_the_same_parameters_are_copied_not_encoded_again(tmp_path, bframes):
    durations = [1.2, 2.0, 0.8, 1.6]
    parts = [make_clip(tmp_path / f"p{i}.mp4", d, bframes=bframes) for i, d in enumerate(durations)]
    joined = join(parts, tmp_path / "out/video.mp4")
    assert joined.video_copied
    assert joined.duration_s == pytest.approx(sum(durations))
    assert joined.starts_s == pytest.approx((0.0, 1.2, 3.2, 4.0))
    assert_joined(tmp_path / "out/video.mp4", parts, durations)
    # byte for byte the parts' own video packets, in order: no frame was encoded again
    assert video_payloads(tmp_path / "out/video.mp4") == [b for p in parts for b in video_payloads(p)]


def test_parts_of_different_sizes_are_encoded_again_at_the_first_size(tmp_path):
    sizes = [(320, 180), (480, 270), (320, 180)]
    durations = [1.0, 1.4, 0.6]
    parts = [make_clip(tmp_path / f"p{i}.mp4", d, width=w, height=h)
             for i, ((w, h), d) in enumerate(zip(sizes, durations))]
    joined = join(parts, tmp_path / "video.mp4")
    assert not joined.video_copied
    info = assert_joined(tmp_path / "video.mp4", parts, durations)
    assert (info.width, info.height) == (320, 180)


def test_six_parts_in_stereo_at_44_1_khz(tmp_path):
    durations = [0.6, 1.0, 0.4, 1.2, 0.8, 0.52]
    parts = [make_clip(tmp_path / f"p{i}.mp4", d, layout="stereo", rate=44100) for i, d in enumerate(durations)]
    assert join(parts, tmp_path / "video.mp4").video_copied
    assert_joined(tmp_path / "video.mp4", parts, durations)
    with av.open(str(tmp_path / "video.mp4")) as container:
        audio = container.streams.audio[0].codec_context
        assert (audio.name, audio.sample_rate, audio.layout.nb_channels) == ("aac", 44100, 2)


def test_each_part_s_audio_is_cut_or_padded_to_the_part_and_a_silent_part_gets_silence(tmp_path):
    parts = [make_clip(tmp_path / "long.mp4", 1.0, audio_s=1.5),  # the voice runs on past the picture
             make_clip(tmp_path / "short.mp4", 1.2, audio_s=0.7),  # the voice stops early
             make_clip(tmp_path / "mute.mp4", 0.8, audio=False)]  # no audio at all
    joined = join(parts, tmp_path / "video.mp4")
    assert joined.starts_s == pytest.approx((0.0, 1.0, 2.2))
    assert_joined(tmp_path / "video.mp4", parts, [1.0, 1.2, 0.8])


def test_the_old_video_stays_when_a_part_is_not_a_video(tmp_path):
    dest = tmp_path / "video.mp4"
    dest.write_bytes(b"the published join")
    parts = [make_clip(tmp_path / "p0.mp4", 1.0), make_clip(tmp_path / "voice.mp4", 1.0, video=False)]
    with pytest.raises(MediaError) as caught:
        join(parts, dest)
    assert caught.value.path == str(tmp_path / "voice.mp4")
    assert "no video stream" in caught.value.reason
    assert dest.read_bytes() == b"the published join"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.mp4", "video.mp4", "voice.mp4"]


def test_joining_nothing_is_refused(tmp_path):
    with pytest.raises(MediaError, match="no parts"):
        join([], tmp_path / "video.mp4")


def test_a_missing_part_is_a_local_problem_not_bad_media(tmp_path):
    with pytest.raises(FileNotFoundError):
        join([make_clip(tmp_path / "p0.mp4", 1.0), tmp_path / "gone.mp4"], tmp_path / "video.mp4")
    assert not (tmp_path / "video.mp4").exists()
