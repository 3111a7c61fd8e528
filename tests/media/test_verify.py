"""A video is published only when it decodes (docs/parts.md): ``media.verify.probe``
accepts real clips and measures them, and refuses, with a reason a person can read,
files that merely look like MP4s."""

from __future__ import annotations

import pytest

from reconciler.errors import MediaError, ReconcilerError
from reconciler.media.verify import MediaInfo, probe
from reconciler.util import mp4
from tests.media.clips import damage, make_clip, make_empty, make_zero_duration


def test_a_good_clip_is_measured(tmp_path):
    info = probe(make_clip(tmp_path / "a.mp4", 2.0, width=320, height=180, fps=25))
    assert info == MediaInfo(duration_s=2.0, width=320, height=180, video_codec="h264", audio=True, frames=50)


def test_a_clip_without_audio_and_with_b_frames_is_good_too(tmp_path):
    info = probe(make_clip(tmp_path / "a.mp4", 1.2, width=480, height=270, audio=False, bframes=2))
    assert (info.duration_s, info.width, info.height, info.audio, info.frames) == (1.2, 480, 270, False, 30)


@pytest.mark.parametrize("stream", ["video", "audio"])
def test_damaged_media_data_is_refused_though_the_boxes_are_intact(tmp_path, stream):
    path = damage(make_clip(tmp_path / "bad.mp4", 2.0), stream=stream)
    assert mp4.problem(path) is None  # the box check alone would publish it
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert isinstance(caught.value, ReconcilerError)
    assert caught.value.path == str(path)
    assert "damaged" in caught.value.reason or "does not decode" in caught.value.reason
    assert str(path) in str(caught.value)


def test_a_truncated_download_is_refused(tmp_path):
    path = make_clip(tmp_path / "cut.mp4", 2.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="cut short"):
        probe(path)


def test_an_html_error_page_is_refused(tmp_path):
    path = tmp_path / "page.mp4"
    path.write_text("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>")
    with pytest.raises(MediaError, match="HTML"):
        probe(path)


def test_an_audio_only_mp4_is_refused(tmp_path):
    with pytest.raises(MediaError) as caught:
        probe(make_clip(tmp_path / "voice.mp4", 1.0, video=False))
    assert caught.value.reason == "no video stream"


def test_a_video_track_without_frames_is_refused(tmp_path):
    with pytest.raises(MediaError, match="no video stream|no frames|no duration"):
        probe(make_empty(tmp_path / "empty.mp4"))


def test_a_zero_duration_video_is_refused(tmp_path):
    with pytest.raises(MediaError) as caught:
        probe(make_zero_duration(tmp_path / "zero.mp4"))
    assert caught.value.reason == "the video has no duration"


def test_a_missing_file_is_a_local_problem_not_bad_media(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nowhere.mp4")


def test_a_bad_file_does_not_leave_ffmpeg_logging_on(tmp_path):
    import av

    before = av.logging.get_level()
    with pytest.raises(MediaError):
        probe(damage(make_clip(tmp_path / "bad.mp4", 2.0)))
    assert av.logging.get_level() == before
    assert probe(make_clip(tmp_path / "good.mp4", 1.0)).frames == 25  # no leftover error blamed on it
