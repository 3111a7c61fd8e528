"""Fidelity points of issue 10, each checked with the providers against the simulator
over 127.0.0.1: Xingyun's ``error_code: 1``, task objects carrying ``id`` only, an
unknown deck name, ``media_id`` in segments, Unisound links that expire after 3 days
(on a clock the test moves) as well as after one download, every Unisound auth
placement the simulator can require."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from reconciler import sim
from reconciler.errors import PermanentError
from reconciler.providers import signing
from reconciler.providers.base import Credentials, RenderRequest, TaskState
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.unisound import UnisoundProvider
from reconciler.providers.xingyun import XingyunProvider
from tests.helpers import wait_until_async

pytestmark = pytest.mark.anyio
RENDER = 0.6
FAST = RetryPolicy(attempts=3, base=0.01, cap=0.05)
XY_BODY = {"look_name": "AM054", "tts_vcn_name": "XMOV_HN_TTS__236", "studio_name": "youling_2d_v",
           "segment": [{"text": "你好"}]}
UNI_BODY = {"text": "你好", "type": 2, "speech_param": {"vcn": "xuanxuan-plus"},
            "video_param": {"template": "yadi_01", "background": 1}}


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name in ("RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS",
                 "XINGYUN_APP_ID", "XINGYUN_APP_SECRET", "UNISOUND_APPKEY", "UNISOUND_SECRET"):
        monkeypatch.delenv(name, raising=False)
    srv = sim.start_in_thread(state_dir=tmp_path / "state", render_seconds=RENDER, seed=1)
    yield srv
    srv.stop()


def xingyun(server, **kw) -> XingyunProvider:
    return XingyunProvider(Credentials(server.url, "sim-app", "sim-secret"), trust_env=False, policy=FAST, **kw)


def unisound(server, **kw) -> UnisoundProvider:
    return UnisoundProvider(Credentials(server.url, "sim-app", "sim-secret"), trust_env=False, policy=FAST, **kw)


async def finished(provider, task_id: str):
    async def ended():
        st = await provider.status(task_id)
        return st if st.state is not TaskState.PENDING and st.state is not TaskState.RENDERING else None

    return await wait_until_async(ended, RENDER * 10, "the render to finish", step=RENDER / 6)


async def test_xingyun_error_code_1_is_an_auth_error_with_the_clock_and_signature_hint(server):
    server.set_faults({"queue": {"xingyun.status": [{"fault": "error", "code": 1}]},
                       "clock_offset_seconds": -200})
    p = xingyun(server)
    with pytest.raises(PermanentError) as info:
        await p.status("7")
    message = str(info.value)
    assert info.value.code == 1 and "[error 1]" in message
    assert "signature" in message and "XINGYUN_APP_SECRET" in message
    assert re.search(r"local clock is off by (199|200|201) seconds \(ahead of", message)
    assert len([e for e in server.ledger() if e["kind"] == "status"]) == 1  # not retried
    await p.aclose()


async def test_task_objects_with_id_only_are_read_through_the_fallback(server):
    p = xingyun(server)
    ids = [int((await p.submit(RenderRequest("xingyun", XY_BODY))).task_id) for _ in range(2)]
    odd = next(i for i in ids if i % 2)
    raw = httpx.get(f"{server.url}/user/v1/video_synthesis_task/get_render_task?task_id={odd}",
                    headers=signing.xingyun_headers("sim-app", "sim-secret",
                                                    f"/user/v1/video_synthesis_task/get_render_task?task_id={odd}",
                                                    "GET", {}, int(time.time())))
    assert "task_id" not in raw.json()["data"] and raw.json()["data"]["id"] == odd
    for task_id in ids:
        st = await finished(p, str(task_id))
        assert st.task_id == str(task_id) and st.state is TaskState.FINISHED
    await p.aclose()


async def test_unknown_deck_name_is_30002_ppt_missing_and_media_id_is_accepted(server):
    p = xingyun(server)
    with pytest.raises(PermanentError, match=r"PPT file is missing \[error 30002\]"):
        await p.submit(RenderRequest("xingyun", {**{k: v for k, v in XY_BODY.items() if k != "segment"},
                                                 "parse_ppt_file_name": "never_uploaded.pptx"}))
    echoed = {**XY_BODY, "segment": [{"text": "你好", "media_id": 123338, "media_url": "https://m.example/a.png"}]}
    assert (await p.submit(RenderRequest("xingyun", echoed))).task_id
    await p.aclose()


async def test_unisound_link_expires_three_days_after_the_render_finished(server, tmp_path):
    p = unisound(server)
    fresh, old = [(await p.submit(RenderRequest("unisound", UNI_BODY))).task_id for _ in range(2)]
    urls = {t: (await finished(p, t)).video_url for t in (fresh, old)}
    got = await p.download(urls[fresh], tmp_path / "fresh.mp4")
    assert got.bytes > 1000
    with pytest.raises(PermanentError, match="lost"):  # one download only
        await p.download(urls[fresh], tmp_path / "again.mp4")
    server.set_faults({"clock_advance_seconds": 3 * 24 * 3600 + 60})  # three days and a minute later
    with pytest.raises(PermanentError, match="lost") as info:
        await p.download(urls[old], tmp_path / "old.mp4")
    assert "403" in str(info.value)
    assert not (tmp_path / "old.mp4").exists()
    await p.aclose()


@pytest.mark.parametrize("auth", signing.unisound_auth_candidates(), ids=lambda a: f"{a.place}-{a.appkey}-{a.timestamp}-{a.signature}")
async def test_unisound_renders_with_each_placement_the_server_requires(server, auth):
    server.set_faults({"unisound_auth": {"in": auth.place, "names": auth.names()}})
    right, wrong = unisound(server, auth=auth), unisound(server, auth=next(
        c for c in signing.unisound_auth_candidates() if c.place != auth.place))
    assert (await right.probe()).authenticated
    task = await right.submit(RenderRequest("unisound", UNI_BODY))
    assert (await right.status(task.task_id)).state in (TaskState.PENDING, TaskState.RENDERING)
    refused = await wrong.probe()
    assert not refused.authenticated and refused.code in (23902, 23908)
    with pytest.raises(PermanentError):
        await wrong.status(task.task_id)
    await right.aclose()
    await wrong.aclose()
