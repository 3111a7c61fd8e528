"""Retries: reads retry transient failures with bounded full-jitter backoff; a paid
create is retried only when it certainly was not acted on; the concurrency limit holds."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from reconciler.errors import OutcomeUnknownError, PermanentError, TransientError
from reconciler.providers.base import RenderRequest, TaskState
from reconciler.providers.retry import RetryPolicy, retrying
from tests.providers.helpers import Script, Sleeps, make_unisound, make_xingyun, ok, vendor_error

pytestmark = pytest.mark.anyio
XY_BODY = {"look_name": "L", "tts_vcn_name": "T", "studio_name": "S", "segment": [{"text": "hi"}]}
UNI_BODY = {"text": "hi", "type": 2, "speech_param": {"vcn": "v"}, "video_param": {"template": "t", "background": 1}}
RUNNING = ok({"id": 5, "synth_state": "processing"})


async def test_reads_retry_transient_failures_then_succeed():
    sleeps = Sleeps()
    script = Script(httpx.Response(503), httpx.ReadTimeout, httpx.Response(200, text="garbage"),
                    httpx.RemoteProtocolError, RUNNING)
    p = make_xingyun(script, sleeps=sleeps)
    st = await p.status("5")
    assert st.state is TaskState.RENDERING
    assert len(script.requests) == 5
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0]  # rand() = 1.0: the upper bound of each jitter window
    # every attempt is signed afresh
    assert all("x-token" in r.headers for r in script.requests)


async def test_reads_give_up_after_the_bounded_attempts():
    script = Script(httpx.Response(502))
    p = make_unisound(script, attempts=3)
    with pytest.raises(TransientError, match="gave up after 3 attempts"):
        await p.status("T")
    assert len(script.requests) == 3


async def test_permanent_errors_are_not_retried():
    script = Script(vendor_error(30004))
    p = make_xingyun(script)
    with pytest.raises(PermanentError):
        await p.status("5")
    assert len(script.requests) == 1


async def test_cancel_and_preview_are_retried():
    script = Script(httpx.ConnectError, ok())
    p = make_xingyun(script)
    await p.cancel("5")
    script2 = Script(httpx.ReadError, ok({"preview_url": "https://p"}))
    assert await make_xingyun(script2).preview_url("5") == "https://p"
    assert len(script.requests) == len(script2.requests) == 2


async def test_ppt_upload_is_retried_but_the_create_is_not(tmp_path):
    deck = tmp_path / "d.pptx"
    deck.write_bytes(b"deck")
    script = Script(httpx.ReadTimeout, ok({"parse_ppt_file_name": "p1"}), httpx.ReadTimeout)
    p = make_xingyun(script)
    with pytest.raises(OutcomeUnknownError):
        await p.submit(RenderRequest("xingyun", XY_BODY, ppt_path=deck))
    assert script.paths() == ["/user/v1/video_synthesis_task/parse_ppt_file"] * 2 + [
        "/user/v1/video_synthesis_task/create_render_task"]


@pytest.mark.parametrize("lost", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                                  httpx.WriteError, httpx.WriteTimeout, httpx.Response(200, text="<html>")])
@pytest.mark.parametrize("provider", ["xingyun", "unisound"])
async def test_create_whose_answer_was_lost_is_sent_exactly_once(provider, lost):
    script = Script(lost, ok({"task_id": 1}, task_id="u1"))
    p = make_xingyun(script) if provider == "xingyun" else make_unisound(script)
    body = XY_BODY if provider == "xingyun" else UNI_BODY
    with pytest.raises(OutcomeUnknownError):
        await p.submit(RenderRequest(provider, body))
    assert len(script.requests) == 1


@pytest.mark.parametrize("definite", [
    httpx.Response(503, json={"error_code": 0, "error_reason": "service unavailable"}),
    httpx.Response(503, text="Service Unavailable"),
    httpx.Response(429, text="slow down"),
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
])
async def test_create_is_retried_after_a_definite_transient_answer(definite):
    script = Script(definite, httpx.Response(200, json={"error_code": 0, "message": "OK", "task_id": "u9"}))
    p = make_unisound(script)
    assert (await p.submit(RenderRequest("unisound", UNI_BODY))).task_id == "u9"
    assert len(script.requests) == 2
    assert json.loads(script.requests[0].content) == json.loads(script.requests[1].content)


async def test_create_retried_after_503_then_lost_is_unknown_and_stops():
    script = Script(httpx.Response(503), httpx.ReadTimeout, ok({"task_id": 3}))
    p = make_xingyun(script)
    with pytest.raises(OutcomeUnknownError):
        await p.submit(RenderRequest("xingyun", XY_BODY))
    assert len(script.requests) == 2


async def test_concurrency_limit_holds_for_every_request():
    in_flight = peak = 0

    async def handler(request):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return RUNNING

    p = make_xingyun(Script(handler), concurrency=3)
    results = await asyncio.gather(*(p.status(str(i)) for i in range(1, 13)))
    assert len(results) == 12 and peak == 3


async def test_retry_helper_full_jitter_is_capped():
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=8, base=1.0, cap=3.0, sleep=sleeps, rand=lambda: 0.5)
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        raise TransientError("nope")

    with pytest.raises(TransientError):
        await retrying(flaky, policy, "t")
    assert calls == 8 and sleeps.delays == [0.5, 1.0, 1.5, 1.5, 1.5, 1.5, 1.5]


async def test_a_retry_after_is_honoured_and_a_long_one_is_left_to_the_caller():
    sleeps = Sleeps()
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), RUNNING)
    st = await make_xingyun(script, sleeps=sleeps).status("5")
    assert st.state is TaskState.RENDERING and sleeps.delays == [3.0]  # not the 0.5 s of its own backoff
    script = Script(httpx.Response(503, headers={"Retry-After": "600"}), RUNNING)
    with pytest.raises(TransientError) as caught:
        await make_xingyun(script, sleeps=Sleeps()).status("5")
    assert caught.value.retry_after == 600 and len(script.requests) == 1  # the poll is rescheduled after it
