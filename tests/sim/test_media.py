"""The outputs are real: every finished task's MP4 decodes fully, lasts as long as its
text takes to speak, and its bytes differ between tasks; the ``damaged`` fault serves one
whose boxes are in place and whose media does not decode."""

from __future__ import annotations

import struct

import pytest

from reconciler.errors import MediaError
from reconciler.media import verify
from reconciler.sim import media
from reconciler.util import mp4
from tests.sim.helpers import SEGMENT_BODY


def _fetch(http, url, path):
    r = http.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    path.write_bytes(r.content)
    return r.content


def test_finished_videos_decode_and_differ(xy, uni, http, tmp_path):
    a, b = xy.create_id(), xy.create_id()  # even the same request gives different bytes
    u = uni.start_id()
    xy.wait(a), xy.wait(b)
    _, done = uni.wait(u)
    urls = [xy.status(a)["data"]["render_video_oss"], xy.status(b)["data"]["render_video_oss"],
            done["video_address"]]
    blobs = []
    for i, url in enumerate(urls):
        path = tmp_path / f"v{i}.mp4"
        blobs.append(_fetch(http, url, path))
        info = verify.probe(path)
        assert info.video_codec == "h264" and info.audio and info.frames > 0
        assert (info.width, info.height) == (media.WIDTH, media.HEIGHT)
    assert len(set(blobs)) == 3
    assert blobs[0][4:8] == b"ftyp"


def test_a_longer_text_makes_a_longer_video(xy, http, tmp_path):
    short = xy.create_id(segment=[{"text": "你好。"}])
    long = xy.create_id(segment=[{"text": "这是一段比较长的讲解词，" * 4}, {"text": "第二段也要说完。"}])
    xy.wait(short), xy.wait(long)
    durations = []
    for task in (short, long):
        path = tmp_path / f"{task}.mp4"
        _fetch(http, xy.status(task)["data"]["render_video_oss"], path)
        durations.append(verify.probe(path).duration_s)
    assert durations[0] == pytest.approx(media.FLOOR_S)  # three characters: the floor
    assert durations[1] == pytest.approx(media.spoken_seconds(["这是一段比较长的讲解词，" * 4, "第二段也要说完。"]))
    assert durations[1] > 10 * durations[0] / 2
    tasks = {t["task_id"]: t for t in http.get("/_sim/tasks").json()["tasks"]}
    assert tasks[str(long)]["video_seconds"] == pytest.approx(durations[1])


def test_spoken_seconds_follow_the_characters_spoken():
    assert media.spoken_seconds(["好"]) == media.FLOOR_S
    assert media.spoken_seconds(["一二三四五六七八"]) == 2.0  # 8 x 0.25 s
    assert media.spoken_seconds(["一二三四<mute time=\"500\"/>五六七八"]) == 2.0  # markup is not spoken
    assert media.spoken_seconds(["一二三四五六七八九"]) == 2.5  # rounded up to the step
    assert media.spoken_seconds(["字" * 5000]) == media.CAP_S
    assert media.request_seconds({"text": "一二三四五六七八"}) == 2.0
    assert media.request_seconds({"segment": [{"text": "一二三四"}, {"text": "五六七八"}]}) == 2.0
    assert media.request_seconds({"parse_ppt_file_name": "deck"}, slides=2) == 2 * media.SLIDE_S


def test_the_clip_of_a_length_is_the_same_bytes_every_time():
    media.clip.cache_clear()
    first = media.clip(3.0)
    media.clip.cache_clear()
    assert media.clip(3.0) == first


def test_video_is_the_clip_plus_a_trailing_free_box():
    video = media.task_video("xingyun", "7", "f" * 64, 2.0)
    base = media.clip(2.0)
    assert video.startswith(base) and base == media.base_clip()
    size, kind = struct.unpack(">I4s", video[len(base):len(base) + 8])
    assert kind == b"free" and size == len(video) - len(base)
    assert b'"task_id": "7"' in video[len(base):]


def test_damaged_fault_serves_valid_boxes_that_do_not_decode(sim, xy, http, tmp_path):
    task = xy.create_id(SEGMENT_BODY)
    xy.wait(task)
    url = xy.status(task)["data"]["render_video_oss"]
    sim.set_faults({"queue": {"xingyun.download": ["damaged"]}})
    bad, good = tmp_path / "bad.mp4", tmp_path / "good.mp4"
    damaged = _fetch(http, url, bad)
    intact = _fetch(http, url, good)  # the link still serves: the next download is whole
    assert len(damaged) == len(intact) and damaged != intact
    assert mp4.problem(bad) is None  # shaped like an MP4
    with pytest.raises(MediaError):
        verify.probe(bad)
    verify.probe(good)
    entry = [e for e in sim.ledger() if e["kind"] == "download"][0]
    assert entry["fault"] == "damaged" and entry["ok"]


def test_cover_is_a_png_per_task():
    a, b = media.task_cover("xingyun", "1"), media.task_cover("xingyun", "2")
    assert a.startswith(b"\x89PNG\r\n\x1a\n") and a != b
