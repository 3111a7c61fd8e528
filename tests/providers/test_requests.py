"""The exact requests each verb sends, and tolerant parsing of the answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from reconciler.errors import PermanentError
from reconciler.providers.base import RenderRequest, TaskState
from tests.providers.helpers import NOW, SECRET, Script, make_unisound, make_xingyun, ok

pytestmark = pytest.mark.anyio
BASE = "/user/v1/video_synthesis_task"
TS = str(int(NOW))


def xy_token(path_and_query: str, method: str, sort_json: str) -> str:
    return hashlib.md5(f"{path_and_query.lower()}{method}{sort_json}{SECRET}{TS}".encode()).hexdigest()


def uni_query(request: httpx.Request) -> dict:
    return dict(request.url.params)


async def test_xingyun_create_by_segments():
    script = Script(ok({"task_id": 135}))
    p = make_xingyun(script)
    body = {"look_name": "L", "tts_vcn_name": "T", "studio_name": "S", "sub_title": "on", "if_aigc_mark": False,
            "segment": [{"text": "为推动 我国", "media_url": "https://m/a.png"}]}
    result = await p.submit(RenderRequest("xingyun", body))
    assert result.task_id == "135"
    (req,) = script.requests
    assert req.method == "POST"
    assert str(req.url) == f"https://xingyun.test{BASE}/create_render_task"
    assert req.headers["content-type"] == "application/json"
    assert req.content == json.dumps(body).encode()  # exactly the bytes of the signed dict
    sort_json = json.dumps(body, sort_keys=True).replace(" ", "")
    assert req.headers["x-app-id"] == "app-1"
    assert req.headers["x-timestamp"] == TS
    assert req.headers["x-token"] == xy_token(f"{BASE}/create_render_task", "post", sort_json)


async def test_xingyun_create_by_ppt_uploads_first(tmp_path: Path):
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"PK\x03\x04 fake deck")
    script = Script(ok({"parse_ppt_file_name": "parsed-42.pptx"}), ok({"id": 136}))
    p = make_xingyun(script)
    body = {"look_name": "L", "tts_vcn_name": "T", "studio_name": "S"}
    result = await p.submit(RenderRequest("xingyun", body, ppt_path=deck))
    assert result.task_id == "136"
    upload, create = script.requests
    assert upload.url.path == f"{BASE}/parse_ppt_file" and upload.method == "POST"
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="ppt_file"; filename="deck.pptx"' in upload.content
    assert b"PK\x03\x04 fake deck" in upload.content
    assert upload.headers["x-token"] == xy_token(f"{BASE}/parse_ppt_file", "post", "{}")
    sent = json.loads(create.content)
    assert sent == {**body, "parse_ppt_file_name": "parsed-42.pptx"}
    assert create.headers["x-token"] == xy_token(
        f"{BASE}/create_render_task", "post", json.dumps(sent, sort_keys=True).replace(" ", ""))


async def test_xingyun_get_render_task_signs_query():
    script = Script(ok({"id": 135, "synth_state": "finished", "render_video_oss": "https://oss/v.mp4",
                        "render_image_oss": "https://oss/i.png", "synth_finish_time": "2025-07-17T11:30:54+08:00"}))
    p = make_xingyun(script)
    st = await p.status("135")
    (req,) = script.requests
    assert req.method == "GET"
    assert str(req.url) == f"https://xingyun.test{BASE}/get_render_task?task_id=135"
    assert req.content == b""
    assert req.headers["x-token"] == xy_token(f"{BASE}/get_render_task?task_id=135", "get", "{}")
    assert (st.task_id, st.state, st.raw_state) == ("135", TaskState.FINISHED, "finished")
    assert st.video_url == "https://oss/v.mp4" and st.preview_image_url == "https://oss/i.png"
    assert st.finished_at == "2025-07-17T03:30:54+00:00" and st.error is None  # recorded in UTC


async def test_xingyun_cancel_sends_int_task_id():
    script = Script(ok())
    p = make_xingyun(script)
    assert await p.cancel("135") is None
    (req,) = script.requests
    assert (req.method, req.url.path) == ("POST", f"{BASE}/cancel_render_task")
    assert req.content == b'{"task_id": 135}'
    assert req.headers["x-token"] == xy_token(f"{BASE}/cancel_render_task", "post", '{"task_id":135}')


@pytest.mark.parametrize("value, expected",
                         [("https://p/x", "https://p/x"), (12345, "12345"), (None, None), ("", None)])
async def test_xingyun_preview_url_of_any_type(value, expected):
    script = Script(ok({"preview_url": value}))
    p = make_xingyun(script)
    assert await p.preview_url("7") == expected
    (req,) = script.requests
    assert str(req.url) == f"https://xingyun.test{BASE}/get_render_task_preview_url?task_id=7"
    assert req.headers["x-token"] == xy_token(f"{BASE}/get_render_task_preview_url?task_id=7", "get", "{}")


@pytest.mark.parametrize("word, state", [
    ("not_send", TaskState.PENDING), ("waiting", TaskState.PENDING), ("processing", TaskState.RENDERING),
    ("cancel", TaskState.CANCELLED), ("brand_new_word", TaskState.RENDERING)])
async def test_xingyun_states(word, state):
    p = make_xingyun(Script(ok({"task_id": 9, "synth_state": word})))
    st = await p.status("9")
    assert (st.state, st.raw_state, st.video_url, st.error) == (state, word, None, None)


@pytest.mark.parametrize("key", ["error_reason", "error_msg"])
async def test_xingyun_error_state_keeps_reason(key):
    p = make_xingyun(Script(ok({"id": 9, "synth_state": "error", key: "合成任务失败,请重新发起"})))
    st = await p.status("9")
    assert st.state is TaskState.FAILED and st.error == "合成任务失败,请重新发起"


async def test_xingyun_finished_without_video_is_failed():
    p = make_xingyun(Script(ok({"id": 9, "synth_state": "finished", "render_video_oss": None})))
    st = await p.status("9")
    assert st.state is TaskState.FAILED and "no video URL" in st.error


async def test_xingyun_rejects_non_integer_task_id_without_a_call():
    script = Script(ok())
    p = make_xingyun(script)
    with pytest.raises(PermanentError, match="not a Xingyun task id"):
        await p.status("abc")
    assert script.requests == []


async def test_unisound_start():
    script = Script(httpx.Response(200, json={"task_id": "85d6f8", "error_code": 0, "message": "OK"}))
    p = make_unisound(script)
    body = {"text": "云知声 专注", "speech_param": {"vcn": "xuanxuan-plus"},
            "video_param": {"template": "yadi_01"}, "type": 2}
    result = await p.submit(RenderRequest("unisound", body))
    assert result.task_id == "85d6f8"
    (req,) = script.requests
    assert (req.method, req.url.path) == ("POST", "/api/vms/ai-vms-nrt/start")
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == body  # sent exactly as specs.schema.request_body built it
    ts = str(int(NOW * 1000))
    assert uni_query(req) == {"appKey": "key-1", "timestamp": ts,
                              "signature": hashlib.sha256(f"key-1{ts}{SECRET}".encode()).hexdigest().upper()}


@pytest.mark.parametrize("answer, state, video, error", [
    ({"task_status": "waiting"}, TaskState.PENDING, None, None),
    ({"task_status": "running"}, TaskState.RENDERING, None, None),
    ({"task_status": "done", "video_address": "https://v/1.mp4"}, TaskState.FINISHED, "https://v/1.mp4", None),
    ({"task_status": "done"}, TaskState.FAILED, None, "without a video address"),
    ({"task_status": "done", "message": "synthesis failed: bad"}, TaskState.FAILED, None, "synthesis failed: bad"),
    ({"task_status": "done", "error_code": "23911", "message": "文本长度不合规"},
     TaskState.FAILED, None, "文本长度不合规"),
    ({"error_code": 23999, "message": "render crashed"}, TaskState.FAILED, None, "render crashed"),
])
async def test_unisound_progress(answer, state, video, error):
    script = Script(httpx.Response(200, json={"error_code": 0, "message": "OK", "task_id": "T1", **answer}))
    p = make_unisound(script)
    st = await p.status("T1")
    (req,) = script.requests
    assert (req.method, req.url.path) == ("POST", "/api/vms/ai-vms-nrt/progress")
    assert json.loads(req.content) == {"task_id": "T1"}
    assert set(uni_query(req)) == {"appKey", "timestamp", "signature"}
    assert (st.task_id, st.state, st.video_url) == ("T1", state, video)
    assert st.raw_state
    if error:
        assert error in st.error
    else:
        assert st.error is None


async def test_unisound_has_no_cancel_and_no_preview():
    script = Script(ok())
    p = make_unisound(script)
    with pytest.raises(PermanentError, match="no cancel API"):
        await p.cancel("T1")
    assert await p.preview_url("T1") is None
    assert script.requests == []
    assert p.capabilities.can_cancel is False and p.capabilities.one_shot_download is True


async def test_capabilities_and_concurrency_setting():
    x = make_xingyun(Script(ok()))
    caps = x.capabilities
    assert (caps.can_cancel, caps.one_shot_download, caps.max_concurrency) == (True, False, 10)
    assert make_unisound(Script(ok())).capabilities.max_concurrency == 5
    assert make_xingyun(Script(ok()), concurrency=3).capabilities.max_concurrency == 3


async def test_every_request_has_a_timeout():
    script = Script(ok({"id": 1, "synth_state": "waiting"}))
    p = make_xingyun(script, timeout=12.0)
    await p.status("1")
    timeout = script.requests[0].extensions["timeout"]
    assert timeout["read"] == 12.0 and timeout["connect"] == 10.0
