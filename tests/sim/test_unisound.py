"""Unisound endpoints of the simulator: start, progress states, one-shot download, errors."""

from __future__ import annotations

import pytest

from tests.sim.helpers import UNI_BODY, unisound_params


def test_start_progresses_waiting_running_done(uni):
    doc = uni.start()
    assert doc["error_code"] == 0 and doc["message"] == "OK"
    task_id = doc["task_id"]
    assert isinstance(task_id, str) and len(task_id) == 32 and int(task_id, 16) >= 0
    seen, done = uni.wait(task_id)
    assert seen == ["waiting", "running", "done"]
    assert done["task_id"] == task_id and done["video_address"].startswith("http://127.0.0.1:")


def test_progress_accepts_upper_case_ids(uni):
    task_id = uni.start_id()
    assert uni.progress(task_id.upper())["error_code"] == 0


def test_video_address_serves_once(uni, http):
    task_id = uni.start_id()
    _, done = uni.wait(task_id)
    first = http.get(done["video_address"])
    assert first.status_code == 200 and first.headers["content-type"] == "video/mp4"
    assert int(first.headers["content-length"]) == len(first.content) > 10_000
    second = http.get(done["video_address"])
    assert second.status_code == 410
    # progress still names the address (as the vendor would), it just no longer serves
    assert uni.progress(task_id)["video_address"] == done["video_address"]


def test_head_uses_up_the_one_download(uni, http):
    task_id = uni.start_id()
    _, done = uni.wait(task_id)
    head = http.head(done["video_address"])
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and head.content == b""
    assert http.get(done["video_address"]).status_code == 410


def test_video_address_404_before_done(uni, http, sim):
    task_id = uni.start_id()
    assert http.get(f"/_sim/oss/unisound/{task_id}.mp4").status_code == 404
    _, done = uni.wait(task_id)
    assert http.get(done["video_address"]).status_code == 200  # the early 404 did not use it up


def test_sim_fail_is_done_without_video_address(uni):
    task_id = uni.start_id(text="这次会失败 SIM_FAIL")
    seen, done = uni.wait(task_id)
    assert seen[-1] == "done" and done["error_code"] == 0
    assert "video_address" not in done and "SIM_FAIL" in done["message"]


@pytest.mark.parametrize("changes", [
    {"text": ""},
    {"text": None},
    {"type": 1},
    {"type": None},
    {"speech_param": {"speed": 50}},
    {"speech_param": {"vcn": "xuanxuan-plus", "speed": 101}},
    {"speech_param": {"vcn": "xuanxuan-plus", "bright": 40}},
    {"speech_param": {"vcn": "xuanxuan-plus", "tone": 1}},
    {"video_param": {"watermask": 0}},
    {"video_param": {"template": "yadi_01", "background": 2}},
    {"user_id": 7},
    {"callback": "http://x"},
])
def test_bad_start_is_23901(uni, changes):
    body = {**UNI_BODY, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    doc = uni.post("start", body).json()
    assert doc["error_code"] == 23901, doc


def test_start_needs_json_content_type(uni, http):
    r = http.post("/api/vms/ai-vms-nrt/start", params=unisound_params(), data={"text": "x"})
    assert r.json()["error_code"] == 23901


def test_text_length_limit_is_5000(uni):
    assert uni.start(text="字" * 5000)["error_code"] == 0
    assert uni.start(text="字" * 5001)["error_code"] == 23911


def test_unknown_task_is_23910_and_missing_id_23901(uni):
    assert uni.progress("0" * 32)["error_code"] == 23910
    assert uni.post("progress", {}).json()["error_code"] == 23901


def test_quota_is_23907(uni, sim):
    sim.set_faults({"unisound_quota": 2})
    assert uni.start()["error_code"] == 0
    assert uni.start()["error_code"] == 0
    assert uni.start()["error_code"] == 23907
    sim.set_faults({})
    assert uni.start()["error_code"] == 0


def test_internal_error_is_23903_via_fault(uni, sim):
    sim.set_faults({"queue": {"unisound.create": ["internal"], "unisound.status": ["internal"]}})
    assert uni.start()["error_code"] == 23903
    task_id = uni.start_id()
    assert uni.progress(task_id)["error_code"] == 23903
    assert uni.progress(task_id)["error_code"] == 0
