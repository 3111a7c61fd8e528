"""Xingyun endpoints of the simulator: create, states, outputs, preview, cancel, PPT, errors."""

from __future__ import annotations

import pytest

from reconciler.sim.lifecycle import xingyun_progress
from reconciler.sim.store import Task
from tests.helpers import tiny_pptx
from tests.sim.helpers import PPT_BODY, SEGMENT_BODY, XY, xingyun_headers


def test_create_progresses_through_every_state_to_finished(xy):
    doc = xy.create()
    assert doc["error_code"] == 0 and doc["error_reason"] == ""
    task_id = doc["data"]["task_id"]
    assert isinstance(task_id, int)
    seen = xy.wait(task_id)
    order = ["not_send", "waiting", "processing", "finished"]
    # in this order; a loaded machine may poll past a state of 40 ms (each state's share: below)
    assert seen[-1] == "finished" and seen == [s for s in order if s in seen] and len(seen) >= 2


def test_each_state_holds_its_share_of_the_render_time():
    task = Task(vendor="xingyun", task_id="1", created_at=100.0, render_seconds=10.0, request={},
                fingerprint="f", fail_reason=None, cancelled_at=None, downloads=0)
    states = [xingyun_progress(task, 100.0 + t).state for t in (0.0, 0.99, 1.0, 2.99, 3.0, 9.99, 10.0)]
    assert states == ["not_send", "not_send", "waiting", "waiting", "processing", "processing", "finished"]


def test_finished_task_object_has_the_documented_shape(xy, http):
    task_id = xy.create_id()
    xy.wait(task_id)
    data = xy.status(task_id)["data"]
    assert data["id"] == task_id and data.get("task_id", task_id) == task_id
    assert ("task_id" in data) == (task_id % 2 == 0)  # odd ids: `id` only, as the document's example
    assert data["synth_state"] == "finished"
    assert data["look_name"] == SEGMENT_BODY["look_name"]
    assert data["video_name"] == SEGMENT_BODY["video_name"]
    assert data["sub_title"] == "on" and data["if_aigc_mark"] is False
    assert data["synth_start_time"] and data["synth_finish_time"]
    assert data["synth_start_time"] <= data["synth_finish_time"]
    assert data["error_reason"] == ""
    assert [s["text"] for s in data["segment"]] == [s["text"] for s in SEGMENT_BODY["segment"]]
    assert data["render_video_oss"].startswith(str(http.base_url).rstrip("/"))
    video = http.get(data["render_video_oss"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content) > 10_000
    again = http.get(data["render_video_oss"])  # Xingyun serves any number of times
    assert again.status_code == 200 and again.content == video.content
    image = http.get(data["render_image_oss"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_unfinished_task_has_no_outputs(xy):
    task_id = xy.create_id()
    data = xy.status(task_id)["data"]
    assert data["synth_state"] in ("not_send", "waiting", "processing")
    assert data["render_video_oss"] is None and data["render_image_oss"] is None
    assert data["synth_finish_time"] is None


def test_task_ids_increase(xy):
    ids = [xy.create_id() for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_sim_fail_marker_ends_in_error_with_reason(xy):
    task_id = xy.create_id(segment=[{"text": "please SIM_FAIL now"}])
    assert xy.wait(task_id)[-1] == "error"
    data = xy.status(task_id)["data"]
    assert "SIM_FAIL" in data["error_reason"]
    assert data["render_video_oss"] is None and data["synth_finish_time"] is None


def test_preview_url_is_a_url_string_that_serves_a_page(xy, http):
    task_id = xy.create_id()
    xy.wait(task_id)
    doc = xy.preview(task_id)
    assert doc["error_code"] == 0
    url = doc["data"]["preview_url"]
    assert isinstance(url, str) and url.startswith("http://127.0.0.1:")
    page = http.get(url)
    assert page.status_code == 200 and b"<video" in page.content


def test_cancel_unfinished_then_finished_and_unknown(xy):
    task_id = xy.create_id()
    assert xy.cancel(task_id) == {"error_code": 0, "error_reason": ""}
    assert xy.status(task_id)["data"]["synth_state"] == "cancel"
    assert xy.cancel(task_id)["error_code"] == 30006  # already cancelled
    done = xy.create_id()
    xy.wait(done)
    assert xy.cancel(done)["error_code"] == 30006
    assert xy.status(done)["data"]["synth_state"] == "finished"
    assert xy.cancel(999_999)["error_code"] == 30004
    assert xy.cancel("not-a-number")["error_code"] == 30006


def test_cancelled_task_stays_cancelled_after_render_time(xy):
    task_id = xy.create_id()
    xy.cancel(task_id)
    assert xy.wait(task_id) == ["cancel"]


def test_unknown_task_is_30004(xy):
    assert xy.status(424242)["error_code"] == 30004
    assert xy.preview(424242)["error_code"] == 30004
    assert xy.status("abc")["error_code"] == 30004


@pytest.mark.parametrize("changes, drop", [
    ({}, "look_name"),
    ({}, "tts_vcn_name"),
    ({}, "studio_name"),
    ({}, "segment"),  # neither segment nor parse_ppt_file_name
    ({"parse_ppt_file_name": "never-uploaded.pptx"}, None),  # both
    ({"sub_title": "yes"}, None),
    ({"if_aigc_mark": "true"}, None),
    ({"segment": []}, None),
    ({"segment": [{"text": ""}]}, None),
    ({"segment": [{"text": "a", "speed": 1}]}, None),
    ({"ppt_file": "deck.pptx"}, None),  # unknown field (the document's demo shows it)
])
def test_bad_create_is_30005(xy, changes, drop):
    body = {**SEGMENT_BODY, **changes}
    if drop:
        body.pop(drop)
    doc = xy.post("create_render_task", body).json()
    assert doc["error_code"] == 30005, doc
    assert doc["data"] is None and doc["error_reason"]


def test_create_with_unknown_ppt_name_is_30002_ppt_missing(xy):
    assert xy.create(PPT_BODY, parse_ppt_file_name="sim_ppt_nope.pptx")["error_code"] == 30002  # PPT文件不存在


def test_ppt_upload_then_render(xy):
    doc = xy.upload(tiny_pptx())
    assert doc["error_code"] == 0, doc
    name = doc["data"]["parse_ppt_file_name"]
    task_id = xy.create_id(PPT_BODY, parse_ppt_file_name=name)
    assert xy.wait(task_id)[-1] == "finished"
    assert xy.status(task_id)["data"]["parse_ppt_file_name"] == name


def test_ppt_with_fail_marker_fails(xy):
    name = xy.upload(tiny_pptx("SIM_FAIL"))["data"]["parse_ppt_file_name"]
    task_id = xy.create_id(PPT_BODY, parse_ppt_file_name=name)
    assert xy.wait(task_id)[-1] == "error"


def test_ppt_errors(xy):
    assert xy.upload(None)["error_code"] == 30002  # no ppt_file field
    assert xy.upload(b"")["error_code"] == 30002  # empty file
    assert xy.upload(b"this is not a zip")["error_code"] == 30003
    assert xy.upload(tiny_pptx(presentation=False))["error_code"] == 30003


def test_output_urls_follow_the_host_header(xy):
    task_id = xy.create_id()
    xy.wait(task_id)
    target = f"{XY}/get_render_task?task_id={task_id}"
    doc = xy.http.get(target, headers={**xingyun_headers("GET", target, {}), "Host": "sim.example:9999"}).json()
    assert doc["data"]["render_video_oss"].startswith("http://sim.example:9999/")


def test_wrong_method_and_double_slash_are_not_served(http, xy):
    assert http.get(f"{XY}/create_render_task").status_code == 405
    target = "/" + f"{XY}/create_render_task"  # the demo's f'{host}/{api_path}' mistake
    r = http.post(target, json=SEGMENT_BODY, headers=xingyun_headers("POST", target, SEGMENT_BODY))
    assert r.status_code == 404


def test_file_urls_404_before_finished(xy, http, sim):
    task_id = xy.create_id()
    assert http.get(f"/_sim/oss/xingyun/{task_id}.mp4").status_code == 404
    assert http.get("/_sim/oss/xingyun/987654.mp4").status_code == 404
