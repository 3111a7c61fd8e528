"""The outputs are real: every finished task's MP4 decodes with ffmpeg, bytes differ."""

from __future__ import annotations

import struct

from reconciler.sim import media
from tests.sim.helpers import ffmpeg_check


def test_finished_videos_decode_and_differ(xy, uni, http, tmp_path):
    a, b = xy.create_id(), xy.create_id()  # even the same request gives different bytes
    u = uni.start_id()
    xy.wait(a), xy.wait(b)
    _, done = uni.wait(u)
    urls = [xy.status(a)["data"]["render_video_oss"], xy.status(b)["data"]["render_video_oss"],
            done["video_address"]]
    blobs = []
    for i, url in enumerate(urls):
        r = http.get(url)
        assert r.status_code == 200
        path = tmp_path / f"v{i}.mp4"
        path.write_bytes(r.content)
        check = ffmpeg_check(path)
        assert check.returncode == 0 and check.stderr == b"", check.stderr
        blobs.append(r.content)
    assert len(set(blobs)) == 3
    assert blobs[0][4:8] == b"ftyp"


def test_video_is_the_base_clip_plus_a_trailing_free_box():
    video = media.task_video("xingyun", "7", "f" * 64)
    base = media.base_clip()
    assert video.startswith(base)
    size, kind = struct.unpack(">I4s", video[len(base):len(base) + 8])
    assert kind == b"free" and size == len(video) - len(base)
    assert b'"task_id": "7"' in video[len(base):]


def test_base_clip_is_small_and_shipped_in_the_package():
    assert 10_000 < len(media.base_clip()) < 100_000


def test_cover_is_a_png_per_task():
    a, b = media.task_cover("xingyun", "1"), media.task_cover("xingyun", "2")
    assert a.startswith(b"\x89PNG\r\n\x1a\n") and a != b
