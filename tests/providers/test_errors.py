"""Error mapping at the boundary: every vendor code, HTTP status and transport failure
becomes exactly one of Transient / Permanent / OutcomeUnknown, and no httpx error leaks."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest

from reconciler.errors import OutcomeUnknownError, PermanentError, ProviderError, TransientError
from reconciler.providers import codes
from reconciler.providers.base import RenderRequest
from tests.providers.helpers import NOW, Script, make_unisound, make_xingyun, ok, vendor_error

pytestmark = pytest.mark.anyio
XY_BODY = {"look_name": "L", "tts_vcn_name": "T", "studio_name": "S", "segment": [{"text": "hi"}]}
UNI_BODY = {"text": "hi", "type": 2, "speech_param": {"vcn": "v"}, "video_param": {"template": "t", "background": 1}}
KIND = {codes.TRANSIENT: TransientError, codes.AUTH: PermanentError, codes.NOT_FOUND: PermanentError,
        codes.PERMANENT: PermanentError}


def all_codes():
    return [("xingyun", c) for c in codes.XINGYUN] + [("unisound", c) for c in codes.UNISOUND]


def test_every_documented_code_has_a_table_entry():
    documented_xingyun = {1, 20001, 20002, 20003, 30002, 30003, 30004, 30005, 30006}
    documented_unisound = {23901, 23902, 23903, 23907, 23908, 23909, 23910, 23911}
    assert set(codes.XINGYUN) == documented_xingyun and set(codes.UNISOUND) == documented_unisound
    for provider, code in all_codes():
        kind, what, todo = codes.lookup(provider, code)
        assert what and todo.endswith((".", ")")), (provider, code)


def test_kinds_follow_the_notes():
    transient = {c for p, c in all_codes() if codes.kind_of(p, c) == codes.TRANSIENT}
    assert transient == {23903}
    auth = {c for p, c in all_codes() if codes.kind_of(p, c) == codes.AUTH}
    assert auth == {1, 20001, 20002, 20003, 23902, 23908, 23909}
    assert {c for p, c in all_codes() if codes.kind_of(p, c) == codes.NOT_FOUND} == {30004, 23910}


async def call_with(provider: str, verb: str, answer, **kw):
    script = Script(answer)
    p = make_xingyun(script, attempts=1, **kw) if provider == "xingyun" else make_unisound(script, attempts=1, **kw)
    if verb == "create":
        body = XY_BODY if provider == "xingyun" else UNI_BODY
        return await p.submit(RenderRequest(provider, body))
    if verb == "status":
        return await p.status("135")
    if verb == "cancel":
        return await p.cancel("135")
    return await p.preview_url("135")


@pytest.mark.parametrize("provider, code", all_codes())
@pytest.mark.parametrize("key", ["error_reason", "error_msg", "message"])
async def test_each_code_on_create_maps_to_its_kind_with_a_message(provider, code, key):
    with pytest.raises(ProviderError) as info:
        await call_with(provider, "create", vendor_error(code, "the vendor's words", key=key))
    exc = info.value
    expected = OutcomeUnknownError if codes.create_outcome_unknown(provider, code) else KIND[codes.kind_of(provider, code)]
    assert type(exc) is expected
    assert exc.code == code and exc.provider == provider
    msg = str(exc)
    assert msg.startswith(f"{provider}: ") and f"[error {code}]" in msg and "the vendor's words" in msg
    if expected is OutcomeUnknownError:
        assert "NOT re-sent" in msg
    else:
        assert codes.lookup(provider, code)[2] in msg  # says what to do next


@pytest.mark.parametrize("code, expected", [(30004, PermanentError), (30006, PermanentError),
                                            (20001, PermanentError), (31337, PermanentError)])
async def test_xingyun_read_codes(code, expected):
    with pytest.raises(expected) as info:
        await call_with("xingyun", "cancel", vendor_error(code))
    assert info.value.code == code


async def test_unisound_progress_not_found_and_auth_raise_instead_of_failing_the_render():
    with pytest.raises(PermanentError, match="not found"):
        await call_with("unisound", "status", vendor_error(23910, key="message"))
    with pytest.raises(PermanentError, match="allow-list"):
        await call_with("unisound", "status", vendor_error(23909, key="message"))
    with pytest.raises(TransientError, match="internal error"):
        await call_with("unisound", "status", vendor_error(23903, key="message"))


async def test_string_error_codes_are_read_as_numbers():
    resp = httpx.Response(200, json={"error_code": "23907", "message": "套餐耗尽"})
    with pytest.raises(PermanentError, match="quota") as info:
        await call_with("unisound", "create", resp)
    assert info.value.code == 23907


@pytest.mark.parametrize("status, verb, expected", [
    (429, "status", TransientError), (500, "status", TransientError), (502, "status", TransientError),
    (503, "status", TransientError), (504, "status", TransientError),
    (404, "status", PermanentError), (401, "status", PermanentError), (400, "create", PermanentError),
    (429, "create", TransientError), (503, "create", TransientError),
    (500, "create", TransientError), (502, "create", TransientError), (504, "create", OutcomeUnknownError),
])
async def test_http_status_without_vendor_body(status, verb, expected):
    with pytest.raises(expected) as info:
        await call_with("xingyun", verb, httpx.Response(status, text="<html>Bad Gateway</html>"))
    assert not isinstance(info.value, OutcomeUnknownError) or "NOT re-sent" in str(info.value)


async def test_5xx_with_a_vendor_body_on_create_is_a_definite_transient_answer():
    with pytest.raises(TransientError):
        await call_with("xingyun", "create", httpx.Response(504, json={"error_code": 0, "error_reason": "oops"}))
    with pytest.raises(TransientError):
        await call_with("unisound", "create", httpx.Response(503, json={"error_code": 0, "message": "busy"}))


@pytest.mark.parametrize("status", [200, 500])
async def test_unisound_23903_on_start_is_outcome_unknown_not_retried(status):
    script = Script(httpx.Response(status, json={"error_code": 23903, "message": "服务内部错误"}),
                    httpx.Response(200, json={"error_code": 0, "message": "OK", "task_id": "u9"}))
    p = make_unisound(script)
    with pytest.raises(OutcomeUnknownError, match="NOT re-sent") as info:
        await p.submit(RenderRequest("unisound", UNI_BODY))
    assert info.value.code == 23903 and len(script.requests) == 1


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
@pytest.mark.parametrize("verb", ["create", "status"])
async def test_failures_before_sending_are_transient(exc, verb):
    with pytest.raises(TransientError, match="nothing was sent"):
        await call_with("unisound", verb, exc)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError,
                                 httpx.WriteError, httpx.WriteTimeout])
async def test_failures_after_sending(exc):
    with pytest.raises(TransientError):
        await call_with("xingyun", "status", exc)
    with pytest.raises(OutcomeUnknownError, match="NOT re-sent"):
        await call_with("xingyun", "create", exc)
    with pytest.raises(OutcomeUnknownError):
        await call_with("unisound", "create", exc)


@pytest.mark.parametrize("garbage", [b"<html>oops</html>", b"", b"[1, 2]", b"\xff\xfe garbage"])
async def test_garbage_bodies(garbage):
    with pytest.raises(TransientError, match="not a JSON object"):
        await call_with("unisound", "status", httpx.Response(200, content=garbage))
    with pytest.raises(OutcomeUnknownError, match="not a JSON object"):
        await call_with("unisound", "create", httpx.Response(200, content=garbage))


async def test_create_accepted_without_a_task_id_is_outcome_unknown():
    with pytest.raises(OutcomeUnknownError, match="no task id"):
        await call_with("xingyun", "create", ok({}))
    with pytest.raises(OutcomeUnknownError, match="no task_id"):
        await call_with("unisound", "create", httpx.Response(200, json={"error_code": 0, "message": "OK"}))


async def test_bad_endpoint_is_permanent():
    from reconciler.providers.base import Credentials
    from reconciler.providers.xingyun import XingyunProvider

    p = XingyunProvider(Credentials("ftp://nowhere", "a", "b"))
    with pytest.raises(PermanentError, match="endpoint"):
        await p.status("1")
    await p.aclose()


@pytest.mark.parametrize("provider, code", [("xingyun", 20002), ("xingyun", 20003), ("unisound", 23902)])
async def test_auth_failure_names_the_clock_skew(provider, code):
    server_date = formatdate(NOW - 125, usegmt=True)  # the local clock is 125 s ahead
    with pytest.raises(PermanentError) as info:
        await call_with(provider, "status", vendor_error(code, headers={"Date": server_date}))
    assert "local clock is off by 125 seconds" in str(info.value)
    assert "ahead of" in str(info.value)


async def test_auth_failure_with_a_good_clock_does_not_blame_it():
    server_date = formatdate(NOW - 3, usegmt=True)
    with pytest.raises(PermanentError) as info:
        await call_with("xingyun", "status", vendor_error(20002, headers={"Date": server_date}))
    assert "clock is off" not in str(info.value)
    with pytest.raises(PermanentError) as info:
        await call_with("xingyun", "status", vendor_error(20002))  # no Date header at all
    assert "clock is off" not in str(info.value)


async def test_ppt_file_that_cannot_be_read(tmp_path):
    script = Script(ok())
    p = make_xingyun(script)
    with pytest.raises(PermanentError, match="cannot read the PPT file"):
        await p.submit(RenderRequest("xingyun", XY_BODY, ppt_path=tmp_path / "missing.pptx"))
    assert script.requests == []
