"""Contract tests: the providers against the real simulator over HTTP on 127.0.0.1.

Every endpoint and state of both vendors, their error codes, PPT upload, cancel,
preview, the one-shot download, wrong secrets and a skewed clock; then injected faults,
where the simulator's ledger proves what reached it: reads are retried until they
succeed, a create that got a definite error answer is retried without duplicates, and a
create whose answer was lost is reported as outcome-unknown and sent exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

import httpx
import pytest

from reconciler import sim
from reconciler.errors import OutcomeUnknownError, PermanentError
from reconciler.providers.base import Credentials, RenderRequest, TaskState
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.unisound import UnisoundProvider
from reconciler.providers.xingyun import XingyunProvider
from tests.helpers import tiny_pptx, wait_until_async

pytestmark = pytest.mark.anyio
RENDER = 1.5  # seconds; the first 0.3 * RENDER of a task are its pending window
FAST = RetryPolicy(attempts=6, base=0.02, cap=0.1,  # the simulator's Retry-After (1 s) honoured on a fast clock
                   sleep=lambda seconds: asyncio.sleep(min(seconds, 0.1)))
XY_BODY = {"look_name": "AM054", "tts_vcn_name": "XMOV_HN_TTS__236", "studio_name": "youling_2d_v",
           "sub_title": "on", "if_aigc_mark": False, "video_name": "发布会 开场",
           "segment": [{"text": "为推动我国制造业 数字化转型,", "media_url": "https://m.example/a.png"},
                       {"text": "同期将举行多场论坛。"}]}
UNI_BODY = {"text": "云知声专注于物联网人工智能服务,这是第<value>110</value>会议室。",
            "speech_param": {"vcn": "xuanxuan-plus", "speed": 55, "volume": 50, "pitch": 50, "bright": 50},
            "video_param": {"template": "yadi_01", "watermask": 0, "background": 1,
                            "backgroundImage": "color_lightgreen.png"},
            "type": 2, "user_id": "test"}


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name in ("RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    srv = sim.start_in_thread(state_dir=tmp_path / "state", render_seconds=RENDER, seed=1,
                              credentials={"xingyun": {"app_id": "xy-app", "secret": "xy-secret"},
                                           "unisound": {"appkey": "uni-key", "secret": "uni-secret"}})
    yield srv
    srv.stop()


def xingyun(server, secret="xy-secret", **kw) -> XingyunProvider:
    kw.setdefault("policy", FAST)
    return XingyunProvider(Credentials(server.url, "xy-app", secret), trust_env=False, **kw)


def unisound(server, secret="uni-secret", **kw) -> UnisoundProvider:
    kw.setdefault("policy", FAST)
    return UnisoundProvider(Credentials(server.url, "uni-key", secret), trust_env=False, **kw)


def creates(server, vendor: str) -> list[dict]:
    return [e for e in server.ledger() if e["vendor"] == vendor and e["kind"] == "create"]


async def poll_until_terminal(provider, task_id: str) -> tuple[list[str], object]:
    seen: list[str] = []

    async def terminal():
        st = await provider.status(task_id)
        seen.append(st.raw_state)
        return st if st.state in (TaskState.FINISHED, TaskState.FAILED, TaskState.CANCELLED) else None

    st = await wait_until_async(terminal, RENDER * 10, lambda: f"task {task_id} to finish: {seen}", step=RENDER / 20)
    return seen, st


# ---------------------------------------------------------------------------- Xingyun
async def test_xingyun_render_lifecycle_preview_and_download(server, tmp_path):
    p = xingyun(server)
    task = await p.submit(RenderRequest("xingyun", XY_BODY))
    assert task.task_id.isdigit()
    first = await p.status(task.task_id)
    assert first.state is TaskState.PENDING and first.raw_state in ("not_send", "waiting")
    preview = await p.preview_url(task.task_id)
    assert preview and preview.startswith(server.url)
    seen, final = await poll_until_terminal(p, task.task_id)
    assert "processing" in seen and final.state is TaskState.FINISHED
    assert final.video_url and final.preview_image_url and final.finished_at
    a = await p.download(final.video_url, tmp_path / "out" / "a.mp4")
    b = await p.download(final.video_url, tmp_path / "out" / "b.mp4")  # not one-shot
    assert a.sha256 == b.sha256 == hashlib.sha256(a.path.read_bytes()).hexdigest() and a.bytes > 1000
    await p.aclose()


async def test_xingyun_failed_render_keeps_the_reason(server):
    p = xingyun(server)
    body = {**XY_BODY, "segment": [{"text": "SIM_FAIL please"}]}
    task = await p.submit(RenderRequest("xingyun", body))
    _, final = await poll_until_terminal(p, task.task_id)
    assert final.state is TaskState.FAILED and final.raw_state == "error" and "SIM_FAIL" in final.error
    await p.aclose()


async def test_xingyun_cancel(server):
    p = xingyun(server)
    task = await p.submit(RenderRequest("xingyun", XY_BODY))
    await p.cancel(task.task_id)
    st = await p.status(task.task_id)
    assert (st.state, st.raw_state) == (TaskState.CANCELLED, "cancel")
    with pytest.raises(PermanentError) as info:
        await p.cancel(task.task_id)
    assert info.value.code == 30006 and "refresh" in str(info.value)
    await p.aclose()


async def test_xingyun_ppt_render_and_bad_deck(server, tmp_path):
    p = xingyun(server)
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(tiny_pptx())
    body = {k: v for k, v in XY_BODY.items() if k != "segment"}
    task = await p.submit(RenderRequest("xingyun", body, ppt_path=deck))
    assert [e["kind"] for e in server.ledger()] == ["parse_ppt", "create"]
    assert (await p.status(task.task_id)).state in (TaskState.PENDING, TaskState.RENDERING)
    bad = tmp_path / "bad.pptx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PermanentError, match="could not be parsed") as info:
        await p.submit(RenderRequest("xingyun", body, ppt_path=bad))
    assert info.value.code == 30003
    empty = tmp_path / "empty.pptx"
    empty.write_bytes(b"")
    with pytest.raises(PermanentError, match="PPT file is missing") as info:
        await p.submit(RenderRequest("xingyun", body, ppt_path=empty))
    assert info.value.code == 30002
    assert len(creates(server, "xingyun")) == 1  # a refused upload never reaches the paid create
    await p.aclose()


async def test_xingyun_not_found_and_bad_params(server):
    p = xingyun(server)
    with pytest.raises(PermanentError) as info:
        await p.status("987654")
    assert info.value.code == 30004
    with pytest.raises(PermanentError) as info:
        await p.submit(RenderRequest("xingyun", {**XY_BODY, "studio_name": ""}))
    assert info.value.code == 30005
    await p.aclose()


async def test_xingyun_wrong_secret_and_app(server):
    with pytest.raises(PermanentError) as info:
        await xingyun(server, secret="wrong").status("1")
    assert info.value.code == 20002 and "clock is off" not in str(info.value)
    p = XingyunProvider(Credentials(server.url, "nobody", "xy-secret"), trust_env=False)
    with pytest.raises(PermanentError) as info:
        await p.submit(RenderRequest("xingyun", XY_BODY))
    assert info.value.code == 20001
    assert creates(server, "xingyun")[0]["ok"] is False


async def test_xingyun_skewed_clock_is_named(server):
    p = xingyun(server)
    p.http.clock = lambda: time.time() + 120
    with pytest.raises(PermanentError) as info:
        await p.submit(RenderRequest("xingyun", XY_BODY))
    assert info.value.code == 20003
    assert re.search(r"local clock is off by 1(19|20|21) seconds \(ahead of", str(info.value))  # Date: 1 s steps
    await p.aclose()


# ---------------------------------------------------------------------------- Unisound
async def test_unisound_render_lifecycle_and_one_shot_download(server, tmp_path):
    p = unisound(server)
    task = await p.submit(RenderRequest("unisound", UNI_BODY))
    first = await p.status(task.task_id)
    assert (first.state, first.raw_state) == (TaskState.PENDING, "waiting")
    seen, final = await poll_until_terminal(p, task.task_id)
    assert "running" in seen and final.state is TaskState.FINISHED and final.video_url
    result = await p.download(final.video_url, tmp_path / "u.mp4")
    assert result.sha256 == hashlib.sha256((tmp_path / "u.mp4").read_bytes()).hexdigest()
    with pytest.raises(PermanentError, match="output is lost") as info:
        await p.download(final.video_url, tmp_path / "again.mp4")
    assert info.value.output_lost and not (tmp_path / "again.mp4").exists()
    downloads = [e for e in server.ledger() if e["kind"] == "download"]
    assert [e["ok"] for e in downloads] == [True, False]  # one GET each, no probes
    await p.aclose()


async def test_unisound_failed_render(server):
    p = unisound(server)
    task = await p.submit(RenderRequest("unisound", {**UNI_BODY, "text": "SIM_FAIL 测试"}))
    _, final = await poll_until_terminal(p, task.task_id)
    assert final.state is TaskState.FAILED and final.raw_state == "done" and "SIM_FAIL" in final.error
    await p.aclose()


@pytest.mark.parametrize("faults, body, code", [
    ({}, {**UNI_BODY, "text": "长" * 5001}, 23911),
    ({}, {**UNI_BODY, "speech_param": {"vcn": "x", "speed": 101}}, 23901),
    ({"unisound_quota": 0}, UNI_BODY, 23907),
    ({"unisound_ip_whitelist": ["10.9.9.9"]}, UNI_BODY, 23909),
])
async def test_unisound_refusals(server, faults, body, code):
    server.set_faults(faults)
    p = unisound(server)
    with pytest.raises(PermanentError) as info:
        await p.submit(RenderRequest("unisound", body))
    assert info.value.code == code
    assert len(creates(server, "unisound")) == 1  # permanent: not retried
    await p.aclose()


async def test_unisound_not_found_wrong_secret_wrong_key_and_skew(server):
    p = unisound(server)
    with pytest.raises(PermanentError) as info:
        await p.status("0" * 32)
    assert info.value.code == 23910
    with pytest.raises(PermanentError) as info:
        await unisound(server, secret="wrong").status("0" * 32)
    assert info.value.code == 23902 and "clock is off" not in str(info.value)
    with pytest.raises(PermanentError) as info:
        await UnisoundProvider(Credentials(server.url, "nokey", "uni-secret"), trust_env=False).status("x")
    assert info.value.code == 23908
    p.http.clock = lambda: time.time() - 400
    with pytest.raises(PermanentError) as info:
        await p.submit(RenderRequest("unisound", UNI_BODY))
    assert info.value.code == 23902
    assert re.search(r"local clock is off by (399|400|401) seconds \(behind", str(info.value))
    await p.aclose()


# ---------------------------------------------------------------------------- faults
async def test_reads_survive_5xx_slow_dropped_and_garbled_answers(server):
    p = xingyun(server)
    task = await p.submit(RenderRequest("xingyun", XY_BODY))
    with httpx.Client() as admin:  # the simulator's documented fault endpoint
        admin.post(f"{server.url}/_sim/faults", json={"queue": {"xingyun.status": [
            "http_503", "drop", "garbage", {"fault": "slow", "delay_ms": 1500}, "http_500"]}}).raise_for_status()
    q = xingyun(server, timeout=0.5)
    st = await q.status(task.task_id)
    assert st.state in (TaskState.PENDING, TaskState.RENDERING)
    statuses = [e for e in server.ledger() if e["kind"] == "status"]
    assert [e["fault"] for e in statuses] == ["http_503", "drop", "garbage", "slow", "http_500", None]
    await p.aclose()
    await q.aclose()


@pytest.mark.parametrize("vendor, faults", [
    ("unisound", ["http_503", "http_429"]),
    ("unisound", ["http_500"]),
    ("xingyun", ["http_503", "http_502", "http_429"]),
])
async def test_create_with_a_definite_error_answer_is_retried_without_duplicates(server, vendor, faults):
    server.set_faults({"queue": {f"{vendor}.create": faults}})
    p = xingyun(server) if vendor == "xingyun" else unisound(server)
    body = XY_BODY if vendor == "xingyun" else UNI_BODY
    task = await p.submit(RenderRequest(vendor, body))
    made = creates(server, vendor)
    assert len(made) == len(faults) + 1
    assert [e["ok"] for e in made] == [False] * len(faults) + [True]  # exactly one render exists
    assert made[-1]["task_id"] == task.task_id
    await p.aclose()


@pytest.mark.parametrize("fault", ["internal", {"fault": "error", "code": 23903}])
async def test_unisound_23903_on_start_is_outcome_unknown_and_sent_once_but_retried_on_progress(server, fault):
    """issue 9: 23903 may come after the task was created; only a read retries it."""
    server.set_faults({"queue": {"unisound.create": [fault], "unisound.status": [fault, fault]}})
    p = unisound(server)
    with pytest.raises(OutcomeUnknownError, match="NOT re-sent") as info:
        await p.submit(RenderRequest("unisound", UNI_BODY))
    assert info.value.code == 23903
    assert [e["error_code"] for e in creates(server, "unisound")] == [23903]  # sent exactly once
    with pytest.raises(PermanentError, match="not found"):  # the third progress gets through
        await p.status("0" * 32)
    progress = [e for e in server.ledger() if e["kind"] == "status"]
    assert [e["error_code"] for e in progress] == [23903, 23903, 23910]
    await p.aclose()


@pytest.mark.parametrize("vendor", ["xingyun", "unisound"])
@pytest.mark.parametrize("fault", ["lost", "drop", "garbage", "truncate", {"fault": "slow", "delay_ms": 1500}])
async def test_create_whose_answer_was_lost_is_unknown_and_not_resent(server, vendor, fault):
    server.set_faults({"queue": {f"{vendor}.create": [fault]}})
    p = xingyun(server, timeout=0.5) if vendor == "xingyun" else unisound(server, timeout=0.5)
    body = XY_BODY if vendor == "xingyun" else UNI_BODY
    with pytest.raises(OutcomeUnknownError, match="NOT re-sent"):
        await p.submit(RenderRequest(vendor, body))
    await asyncio.sleep(0.05)
    assert len(creates(server, vendor)) == 1
    await p.aclose()


async def test_a_failed_download_is_tried_again_until_the_link_says_it_is_used(server, tmp_path):
    p, u = xingyun(server), unisound(server)
    xt = await p.submit(RenderRequest("xingyun", XY_BODY))
    ut = await u.submit(RenderRequest("unisound", UNI_BODY))
    _, xs = await poll_until_terminal(p, xt.task_id)
    _, us = await poll_until_terminal(u, ut.task_id)
    server.set_faults({"queue": {"xingyun.download": ["http_503", "truncate"], "unisound.download": ["truncate"]}})
    out = tmp_path / "outputs"
    assert (await p.download(xs.video_url, out / "x.mp4")).bytes > 1000
    with pytest.raises(PermanentError, match="output is lost.*HTTP 410|HTTP 410.*output is lost"):
        await u.download(us.video_url, out / "u.mp4")  # the cut-short answer used the link up
    assert sorted(f.name for f in out.iterdir()) == ["x.mp4"]
    downloads = [(e["vendor"], e["fault"]) for e in server.ledger() if e["kind"] == "download"]
    assert downloads == [("xingyun", "http_503"), ("xingyun", "truncate"), ("xingyun", None),
                         ("unisound", "truncate"), ("unisound", None)]  # the second GET only hears "used"
    await p.aclose()
    await u.aclose()
