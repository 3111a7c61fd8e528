"""The Xingyun document, row by row, against our client and our simulator.

Each row names the line of ``../shared/seeds/000_f9dedb0d05478aac.txt`` (``000:N``) or
of docs/vendors.md it comes from, and what the document says there; the test checks that
the client (``XingyunProvider``, the spec model) and the simulator both do exactly that,
over HTTP on 127.0.0.1. A reader checks fidelity by reading the table, not the code.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from reconciler import sim
from reconciler.errors import PermanentError
from reconciler.providers import codes, signing, xingyun
from reconciler.providers.base import Credentials, RenderRequest, TaskState
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.xingyun import XingyunProvider
from reconciler.specs import schema as spec_models
from tests.helpers import wait_until_async

pytestmark = pytest.mark.anyio
RENDER = 0.8
BASE = "/user/v1/video_synthesis_task"
BODY = {"look_name": "AM054_Jap_9021_new", "tts_vcn_name": "XMOV_HN_TTS__236", "studio_name": "youling_2d_v",
        "segment": [{"text": "为推动我国制造业数字化转型,", "media_url": "https://media.example.com/a.png"}]}


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name in ("RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS",
                 "XINGYUN_APP_ID", "XINGYUN_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    srv = sim.start_in_thread(state_dir=tmp_path / "state", render_seconds=RENDER, seed=3)
    yield srv
    srv.stop()


def client(server, app="sim-app", secret="sim-secret") -> XingyunProvider:
    return XingyunProvider(Credentials(server.url, app, secret), trust_env=False,
                           policy=RetryPolicy(attempts=2, base=0.01, cap=0.02))


def deck(ok: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ppt/presentation.xml" if ok else "word/document.xml", "<p:presentation/>")
        z.writestr("ppt/slides/slide1.xml", "<p:sld>hello</p:sld>")
    return buf.getvalue()


async def until(p, task_id: str, states: set[str]) -> list[str]:
    seen: list[str] = []

    async def reached() -> bool:
        st = await p.status(task_id)
        if not seen or seen[-1] != st.raw_state:
            seen.append(st.raw_state)
        return st.raw_state in states

    await wait_until_async(reached, RENDER * 10, lambda: f"{states}: {seen}", step=RENDER / 25)
    return seen


# ------------------------------------------------------------------ endpoints (method, path)
ENDPOINTS = [
    ("000:104", "POST", "create_render_task", "create"),
    ("000:247", "POST", "parse_ppt_file", "parse_ppt"),
    ("000:462", "GET", "get_render_task", "status"),
    ("000:611", "POST", "cancel_render_task", "cancel"),
    ("000:670", "GET", "get_render_task_preview_url", "preview"),
]


@pytest.mark.parametrize("line, method, name, kind", ENDPOINTS, ids=[r[0] + " " + r[2] for r in ENDPOINTS])
async def test_endpoint(server, tmp_path, line, method, name, kind):
    p = client(server)
    path = tmp_path / "d.pptx"
    path.write_bytes(deck())
    task = (await p.submit(RenderRequest("xingyun", BODY))).task_id
    calls = {"create": lambda: p.submit(RenderRequest("xingyun", BODY)), "parse_ppt": lambda: p.parse_ppt(path),
             "status": lambda: p.status(task), "cancel": lambda: p.cancel(task), "preview": lambda: p.preview_url(task)}
    before = len(server.ledger())
    await calls[kind]()
    (entry,) = server.ledger()[before:]
    assert (entry["kind"], entry["ok"], entry["error_code"]) == (kind, True, 0)
    assert sim.routes.match(method, f"{BASE}/{name}").kind == kind  # the simulator serves exactly that
    assert sim.routes.match("PUT" if method == "POST" else "POST", f"{BASE}/{name}").kind == "unknown"
    await p.aclose()


# ------------------------------------------------------------------ request fields of create
REQUIRED = [("000:130", "look_name"), ("000:140", "tts_vcn_name"), ("000:150", "studio_name")]


@pytest.mark.parametrize("line, field", REQUIRED, ids=[f"{l} {f} 必填" for l, f in REQUIRED])
async def test_required_create_field(server, line, field):
    body = {k: v for k, v in BODY.items() if k != field}
    with pytest.raises(PermanentError, match=r"\[error 30005\]"):  # the simulator refuses it
        await client(server).submit(RenderRequest("xingyun", body))
    assert field in spec_models.required_fields("xingyun")


DEFAULTS = [("000:171", "sub_title", "on"), ("000:194", "if_aigc_mark", True)]


@pytest.mark.parametrize("line, field, default", DEFAULTS, ids=[f"{l} {f} default" for l, f, _ in DEFAULTS])
async def test_documented_default_is_written_out(server, line, field, default):
    video = spec_models.validate_video({"provider": "xingyun", **BODY})
    body = spec_models.request_body(video)
    assert body[field] == default  # writing the default in a spec changes no fingerprint
    assert (await client(server).submit(RenderRequest("xingyun", body))).task_id


@pytest.mark.parametrize("line, field, bad", [("000:169", "sub_title", "yes"), ("000:192", "if_aigc_mark", "true")],
                         ids=["000:169 sub_title on/off", "000:192 if_aigc_mark bool"])
async def test_enumerated_field_values(server, line, field, bad):
    with pytest.raises(PermanentError, match=r"\[error 30005\]"):
        await client(server).submit(RenderRequest("xingyun", {**BODY, field: bad}))


async def test_000_181_segment_or_ppt_exactly_one(server, tmp_path):
    p = client(server)
    no_source = {k: v for k, v in BODY.items() if k != "segment"}
    with pytest.raises(PermanentError, match=r"\[error 30005\]"):
        await p.submit(RenderRequest("xingyun", no_source))
    path = tmp_path / "d.pptx"
    path.write_bytes(deck())
    with_deck = await p.submit(RenderRequest("xingyun", no_source, ppt_path=path))  # 000:243 parse, then create
    assert [e["kind"] for e in server.ledger()[-2:]] == ["parse_ppt", "create"]
    assert with_deck.task_id


async def test_000_269_ppt_file_part_is_not_signed(server, tmp_path):
    assert signing.xingyun_multipart_sign_data() == {}
    path = tmp_path / "d.pptx"
    path.write_bytes(deck())
    assert (await client(server).parse_ppt(path)).endswith(".pptx")


async def test_000_030_signature_recipe_with_the_query_in_the_path(server):
    target = f"{BASE}/get_render_task?task_id=1"
    token = signing.xingyun_token(target, "GET", {}, "sim-secret", 1489133053)
    assert token == sim.auth.xingyun_token(target=target, method="GET", data={}, secret="sim-secret",
                                           timestamp="1489133053")
    with pytest.raises(PermanentError, match=r"\[error 30004\]"):  # signed as the simulator checks it
        await client(server).status("1")


# ------------------------------------------------------------------ response fields
async def test_000_233_task_id_is_an_int_and_000_882_the_task_object_may_say_id(server):
    p = client(server)
    ids = [(await p.submit(RenderRequest("xingyun", BODY))).task_id for _ in range(2)]
    assert all(i.isdigit() for i in ids)
    for task_id in ids:
        assert (await p.status(task_id)).task_id == task_id  # whether the object says id or task_id


async def test_000_551_outputs_and_000_580_finish_time_only_when_finished(server):
    p = client(server)
    task = (await p.submit(RenderRequest("xingyun", BODY))).task_id
    first = await p.status(task)
    assert first.video_url is None and first.preview_image_url is None and first.finished_at is None
    await until(p, task, {"finished"})
    done = await p.status(task)
    assert done.video_url and done.preview_image_url.endswith(".png") and done.finished_at.endswith("+00:00")


async def test_000_730_preview_url_is_a_url_string(server):
    p = client(server)
    task = (await p.submit(RenderRequest("xingyun", BODY))).task_id
    assert (await p.preview_url(task)).startswith("http")


# ------------------------------------------------------------------ states (000:538-548)
STATES = [("000:538", "not_send", TaskState.PENDING), ("000:540", "waiting", TaskState.PENDING),
          ("000:542", "processing", TaskState.RENDERING), ("000:544", "finished", TaskState.FINISHED),
          ("000:546", "error", TaskState.FAILED), ("000:548", "cancel", TaskState.CANCELLED)]


@pytest.mark.parametrize("line, word, state", STATES, ids=[f"{l} {w}" for l, w, _ in STATES])
async def test_state(server, line, word, state):
    assert xingyun.map_state(word) is state
    p = client(server)
    text = "SIM_FAIL 合成失败" if word == "error" else "你好"
    task = (await p.submit(RenderRequest("xingyun", {**BODY, "segment": [{"text": text}]}))).task_id
    if word == "cancel":
        await p.cancel(task)
    seen = await until(p, task, {word})
    assert seen[-1] == word and (await p.status(task)).state is state


# ------------------------------------------------------------------ error codes (000:744-766, docs/vendors.md)
async def _provoke(server, code: int, tmp_path: Path):
    p = client(server, app="nobody") if code == 20001 else client(server)
    if code == 20001:
        return await p.status("1")
    if code == 30002:
        return await p.submit(RenderRequest("xingyun", {**{k: v for k, v in BODY.items() if k != "segment"},
                                                        "parse_ppt_file_name": "never_uploaded.pptx"}))
    if code == 30003:
        path = tmp_path / "bad.pptx"
        path.write_bytes(deck(ok=False))
        return await p.parse_ppt(path)
    if code == 30004:
        return await p.status("999999")
    if code == 30005:
        return await p.submit(RenderRequest("xingyun", {**BODY, "look_name": ""}))
    task = (await p.submit(RenderRequest("xingyun", BODY))).task_id  # 30006: cancel a finished task
    await until(p, task, {"finished"})
    return await p.cancel(task)


CODES = [("000:744", 20001, codes.AUTH), ("000:748", 30002, codes.PERMANENT), ("000:752", 30003, codes.PERMANENT),
         ("000:756", 30004, codes.NOT_FOUND), ("000:760", 30005, codes.PERMANENT),
         ("000:764", 30006, codes.PERMANENT)]


@pytest.mark.parametrize("line, code, kind", CODES, ids=[f"{l} {c}" for l, c, _ in CODES])
async def test_error_code(server, tmp_path, line, code, kind):
    assert codes.kind_of("xingyun", code) == kind
    with pytest.raises(PermanentError) as info:
        await _provoke(server, code, tmp_path)
    assert info.value.code == code and codes.lookup("xingyun", code)[2] in str(info.value)


NOTES_CODES = [("notes: 20002 bad signature", 20002), ("notes: 20003 timestamp expired", 20003),
               ("notes: 1 签名有误 (production)", 1)]


@pytest.mark.parametrize("line, code", NOTES_CODES, ids=[r[0] for r in NOTES_CODES])
async def test_auth_codes_seen_in_the_wild_name_the_clock(server, line, code):
    assert codes.kind_of("xingyun", code) == codes.AUTH and code in codes.CLOCK_SENSITIVE
    if code == 20002:
        provoke = client(server, secret="wrong")
    elif code == 20003:
        server.set_faults({"clock_offset_seconds": 300})
        provoke = client(server)
    else:  # the simulator answers 1 only when a fault asks for it
        server.set_faults({"queue": {"xingyun.status": [{"fault": "error", "code": 1}]}})
        provoke = client(server)
    with pytest.raises(PermanentError) as info:
        await provoke.status("1")
    assert info.value.code == code and "clock" in str(info.value)


async def test_the_simulator_answers_only_documented_codes(server, tmp_path):
    for _line, code, _kind in CODES:
        try:
            await _provoke(server, code, tmp_path)
        except PermanentError:
            pass
    seen = {e["error_code"] for e in server.ledger() if e["vendor"] == "xingyun"}
    assert seen <= {0, 20001, 20002, 20003, 30002, 30003, 30004, 30005, 30006}
