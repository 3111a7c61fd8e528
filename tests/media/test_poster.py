"""A poster is the frame at 1 s (or the first, for a shorter video), a JPEG at the
video's size, written atomically (docs/parts.md)."""

from __future__ import annotations

import av
import pytest

from reconciler.errors import MediaError
from reconciler.media.poster import write_poster
from tests.media.clips import make_clip


def jpeg_frame(path):
    data = path.read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"  # JPEG start and end markers
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mjpeg"
        return next(container.decode(video=0))


def chroma(frame) -> int:
    """The median of a frame's U plane (clips.py paints each frame's a colour of its own)."""
    plane = bytes(frame.reformat(format="yuvj420p").planes[1])
    return sorted(plane)[len(plane) // 2]


def frame_index(video, poster) -> int:
    """Which frame of ``video`` the poster shows: the one whose colour is nearest."""
    with av.open(str(video)) as container:
        colours = [chroma(frame) for frame in container.decode(video=0)]
    shown = chroma(jpeg_frame(poster))
    return min(range(len(colours)), key=lambda i: abs(colours[i] - shown))


def test_the_poster_is_the_frame_at_one_second_at_the_video_size(tmp_path):
    video = make_clip(tmp_path / "a.mp4", 3.0, width=480, height=270, fps=25)
    assert write_poster(video, tmp_path / "out/a.jpg") == (480, 270)
    frame = jpeg_frame(tmp_path / "out/a.jpg")
    assert (frame.width, frame.height) == (480, 270)
    assert frame_index(video, tmp_path / "out/a.jpg") == 25  # 1 s at 25 fps


def test_a_video_shorter_than_one_second_gets_its_first_frame(tmp_path):
    video = make_clip(tmp_path / "short.mp4", 0.4, fps=25)
    write_poster(video, tmp_path / "short.jpg")
    assert frame_index(video, tmp_path / "short.jpg") == 0


def test_a_poster_replaces_the_old_one_whole_and_leaves_no_temporary_file(tmp_path):
    dest = tmp_path / "a.jpg"
    dest.write_bytes(b"old poster")
    write_poster(make_clip(tmp_path / "a.mp4", 1.5), dest)
    jpeg_frame(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.mp4"]


def test_no_poster_from_a_file_that_is_not_a_video(tmp_path):
    dest = tmp_path / "a.jpg"
    dest.write_bytes(b"old poster")
    audio_only = make_clip(tmp_path / "voice.mp4", 1.0, video=False)
    with pytest.raises(MediaError, match="no video frame"):
        write_poster(audio_only, dest)
    assert dest.read_bytes() == b"old poster"
