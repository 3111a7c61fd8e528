"""The Unisound document, row by row, against our client and our simulator.

Each row names the line of ``../shared/seeds/003_2862a68a7ffad392.txt`` (``003:N``) or
docs/vendors.md it comes from and what it says; the test checks the client
(``UnisoundProvider``, the spec model) and the simulator both do exactly that, over HTTP
on 127.0.0.1. Where the document is silent (where the auth values go) the row says so
and checks that the choice is a setting both sides honour.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from reconciler import sim
from reconciler.errors import OutcomeUnknownError, PermanentError
from reconciler.model import UnisoundAuth
from reconciler.providers import codes, signing, unisound
from reconciler.providers.base import Credentials, RenderRequest, TaskState
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.unisound import UnisoundProvider
from reconciler.specs import schema as spec_models
from tests.helpers import wait_until_async

pytestmark = pytest.mark.anyio
RENDER = 0.8
BODY = {"text": "云知声专注于物联网人工智能服务,这是第<value>110</value>会议室。", "type": 2,
        "speech_param": {"vcn": "xuanxuan-plus", "speed": 50, "volume": 50, "pitch": 50, "bright": 50},
        "video_param": {"template": "yadi_01", "watermask": 1, "background": 1,
                        "backgroundImage": "color_lightgreen.png"},
        "user_id": "unisound-vms-nrt-demo"}  # 003:201-218, the document's own example


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name in ("RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS",
                 "UNISOUND_APPKEY", "UNISOUND_SECRET"):
        monkeypatch.delenv(name, raising=False)
    srv = sim.start_in_thread(state_dir=tmp_path / "state", render_seconds=RENDER, seed=5)
    yield srv
    srv.stop()


def client(server, key="sim-app", secret="sim-secret", **kw) -> UnisoundProvider:
    return UnisoundProvider(Credentials(server.url, key, secret), trust_env=False,
                            policy=RetryPolicy(attempts=3, base=0.01, cap=0.02), **kw)


async def until(p, task_id: str, word: str) -> list[str]:
    seen: list[str] = []

    async def reached() -> bool:
        st = await p.status(task_id)
        if not seen or seen[-1] != st.raw_state:
            seen.append(st.raw_state)
        return st.raw_state == word

    await wait_until_async(reached, RENDER * 10, lambda: f"{word}: {seen}", step=RENDER / 25)
    return seen


# ------------------------------------------------------------------ endpoints
async def test_003_176_start_and_003_266_progress_are_json_posts(server):
    p = client(server)
    task = await p.submit(RenderRequest("unisound", BODY))
    assert len(task.task_id) == 32  # 003:250, a 32-character id
    await p.status(task.task_id)
    assert [(e["kind"], e["ok"]) for e in server.ledger()] == [("create", True), ("status", True)]
    assert sim.routes.match("POST", "/api/vms/ai-vms-nrt/start").kind == "create"
    assert sim.routes.match("POST", "/api/vms/ai-vms-nrt/progress").kind == "status"
    assert sim.routes.match("GET", "/api/vms/ai-vms-nrt/start").kind == "unknown"


async def test_003_172_content_type_must_be_json(server):
    import httpx

    values = signing.unisound_auth_values("sim-app", "sim-secret", int(time.time() * 1000))
    answer = httpx.post(f"{server.url}/api/vms/ai-vms-nrt/progress", params=values,
                        content=b'{"task_id": "x"}', headers={"Content-Type": "text/plain"}).json()
    assert answer["error_code"] == 23901
    assert (await client(server).probe()).authenticated  # the client sends application/json


# ------------------------------------------------------------------ authentication
async def test_003_052_056_signature_is_upper_sha256_of_appkey_timestamp_secret():
    expected = hashlib.sha256(b"45gn7md5n44gv75saomys1700000000123ba24a917ab82a72e0d896").hexdigest().upper()
    assert signing.unisound_signature("45gn7md5n44gv75saomys", 1700000000123, "ba24a917ab82a72e0d896") == expected
    assert sim.auth.unisound_signature(appkey="45gn7md5n44gv75saomys", timestamp="1700000000123",
                                       secret="ba24a917ab82a72e0d896") == expected


async def test_003_050_the_documents_spelling_is_the_default_placement_a_setting(server):
    assert UnisoundAuth() == UnisoundAuth("query", "appKey", "timestamp", "signature")
    assert (await client(server).probe()).authenticated  # the simulator's default is the same
    # the document never says where they go: each placement is a setting both sides honour
    for auth in (UnisoundAuth("body", "appkey", "time", "sign"), UnisoundAuth("header")):
        server.set_faults({"unisound_auth": {"in": auth.place, "names": auth.names()}})
        assert (await client(server, auth=auth).probe()).authenticated
        assert not (await client(server).probe()).authenticated


async def test_003_051_timestamp_is_milliseconds(server):
    p = client(server)
    p.http.clock = lambda: time.time() - 400  # 400 s off: refused, and the clock is named
    with pytest.raises(PermanentError, match="clock is off") as info:
        await p.status("0" * 32)
    assert info.value.code == 23902


# ------------------------------------------------------------------ request fields of start (003:184-197)
FIELD_ERRORS = [
    ("003:184 text", {"text": ""}, 23901),
    ("003:003 text ≤ 5000", {"text": "长" * 5001}, 23911),
    ("003:186 speech_param.vcn", {"speech_param": {"speed": 50}}, 23901),
    ("003:187 speed 0~100", {"speech_param": {"vcn": "xuanxuan-plus", "speed": 101}}, 23901),
    ("003:188 volume 0~100", {"speech_param": {"vcn": "xuanxuan-plus", "volume": -1}}, 23901),
    ("003:189 pitch 0~100", {"speech_param": {"vcn": "xuanxuan-plus", "pitch": 101}}, 23901),
    ("003:190 bright 50~100", {"speech_param": {"vcn": "xuanxuan-plus", "bright": 49}}, 23901),
    ("003:192 video_param.template", {"video_param": {"background": 1}}, 23901),
    ("003:193 watermask 0/1", {"video_param": {"template": "yadi_01", "background": 1, "watermask": 2}}, 23901),
    ("003:194 background 必传", {"video_param": {"template": "yadi_01"}}, 23901),
    ("003:196 type 2", {"type": 1}, 23901),
]


@pytest.mark.parametrize("row, change, code", FIELD_ERRORS, ids=[r[0] for r in FIELD_ERRORS])
async def test_start_field(server, row, change, code):
    with pytest.raises(PermanentError) as info:
        await client(server).submit(RenderRequest("unisound", {**BODY, **change}))
    assert info.value.code == code
    spec = {"provider": "unisound", **{k: v for k, v in {**BODY, **change}.items() if k != "type"}}
    if row != "003:196 type 2":
        with pytest.raises(spec_models.ValidationError):  # the spec is refused before any render
            spec_models.validate_video(spec)


async def test_003_187_190_defaults_are_50_and_written_out(server):
    video = spec_models.validate_video(
        {"provider": "unisound", "text": "你好", "speech_param": {"vcn": "xuanxuan-plus"},
         "video_param": {"template": "yadi_01", "background": 0}})
    body = spec_models.request_body(video)
    assert body["speech_param"] == {"vcn": "xuanxuan-plus", "speed": 50, "volume": 50, "pitch": 50, "bright": 50}
    assert body["type"] == 2
    assert (await client(server).submit(RenderRequest("unisound", body))).task_id


async def test_003_201_the_documents_example_renders(server):
    assert (await client(server).submit(RenderRequest("unisound", BODY))).task_id


# ------------------------------------------------------------------ states (003:291-296)
STATES = [("003:292 waiting", "waiting", TaskState.PENDING), ("003:293 running", "running", TaskState.RENDERING),
          ("003:294 done", "done", TaskState.FINISHED)]


@pytest.mark.parametrize("row, word, state", STATES, ids=[r[0] for r in STATES])
async def test_state(server, row, word, state):
    assert unisound.map_state(word) is state
    p = client(server)
    task = (await p.submit(RenderRequest("unisound", BODY))).task_id
    assert (await until(p, task, word))[-1] == word
    status = await p.status(task)
    assert status.state is state and (status.video_url is not None) == (word == "done")  # 003:296


async def test_notes_no_failed_state_done_without_video_address_is_failed(server):
    p = client(server)
    task = (await p.submit(RenderRequest("unisound", {**BODY, "text": "SIM_FAIL 测试"}))).task_id
    await until(p, task, "done")
    st = await p.status(task)
    assert st.state is TaskState.FAILED and st.video_url is None and "SIM_FAIL" in st.error


# ------------------------------------------------------------------ download (003:317-321)
async def test_003_321_the_link_serves_one_download_and_lives_3_days(server, tmp_path):
    p = client(server)
    first, second = [(await p.submit(RenderRequest("unisound", BODY))).task_id for _ in range(2)]
    for t in (first, second):
        await until(p, t, "done")
    url = (await p.status(first)).video_url
    assert (await p.download(url, tmp_path / "a.mp4")).bytes > 1000
    with pytest.raises(PermanentError, match="output is lost"):
        await p.download(url, tmp_path / "b.mp4")
    server.set_faults({"clock_advance_seconds": 3 * 86400 + 1})
    with pytest.raises(PermanentError, match="403"):
        await p.download((await p.status(second)).video_url, tmp_path / "c.mp4")
    assert [e["ok"] for e in server.ledger() if e["kind"] == "download"] == [True, False, False]  # no probes


# ------------------------------------------------------------------ error codes (003:339-348)
async def _provoke(server, code: int):
    if code == 23901:
        return await client(server).submit(RenderRequest("unisound", {**BODY, "speech_param": {}}))
    if code == 23902:
        return await client(server, secret="wrong").status("0" * 32)
    if code == 23903:
        server.set_faults({"queue": {"unisound.create": ["internal"]}})
        return await client(server).submit(RenderRequest("unisound", BODY))
    if code == 23907:
        server.set_faults({"unisound_quota": 0})
        return await client(server).submit(RenderRequest("unisound", BODY))
    if code == 23908:
        return await client(server, key="nokey").status("0" * 32)
    if code == 23909:
        server.set_faults({"unisound_ip_whitelist": ["10.9.9.9"]})
        return await client(server).status("0" * 32)
    if code == 23910:
        return await client(server).status("0" * 32)
    return await client(server).submit(RenderRequest("unisound", {**BODY, "text": "长" * 5001}))


CODES = [("003:341", 23901, codes.PERMANENT), ("003:342", 23902, codes.AUTH), ("003:343", 23903, codes.TRANSIENT),
         ("003:344", 23907, codes.PERMANENT), ("003:345", 23908, codes.AUTH), ("003:346", 23909, codes.AUTH),
         ("003:347", 23910, codes.NOT_FOUND), ("003:348", 23911, codes.PERMANENT)]


@pytest.mark.parametrize("line, code, kind", CODES, ids=[f"{l} {c}" for l, c, _ in CODES])
async def test_error_code(server, line, code, kind):
    assert codes.kind_of("unisound", code) == kind
    expected = OutcomeUnknownError if code == 23903 else PermanentError  # notes: 23903 on start is never re-sent
    with pytest.raises(expected) as info:
        await _provoke(server, code)
    assert info.value.code == code
    assert len([e for e in server.ledger() if e["kind"] == "create"]) <= 1  # a refused start is not repeated


async def test_the_simulator_answers_only_documented_codes(server):
    for _line, code, _kind in CODES:
        server.set_faults({})
        if code == 23903:
            continue  # only a fault makes the simulator answer 23903
        try:
            await _provoke(server, code)
        except PermanentError:
            pass
    seen = {e["error_code"] for e in server.ledger() if e["vendor"] == "unisound"}
    assert seen <= {0, 23901, 23902, 23907, 23908, 23909, 23910, 23911}
