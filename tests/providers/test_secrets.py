"""No secret (nor a signing input, which contains it) appears in any log line, exception
message, repr or rendered traceback, across every success and error path."""

from __future__ import annotations

import logging
import traceback
from email.utils import formatdate

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers import codes
from reconciler.providers.base import RenderRequest
from tests.providers.helpers import NOW, SECRET, Script, make_unisound, make_xingyun, ok, vendor_error

pytestmark = pytest.mark.anyio
XY_BODY = {"look_name": "L", "tts_vcn_name": "T", "studio_name": "S", "segment": [{"text": "hi"}]}
UNI_BODY = {"text": "hi", "type": 2, "speech_param": {"vcn": "v"}, "video_param": {"template": "t", "background": 1}}
DATE = {"Date": formatdate(NOW - 500, usegmt=True)}

ANSWERS = (
    [vendor_error(c, headers=DATE) for c in list(codes.XINGYUN) + list(codes.UNISOUND) + [99999]]
    + [httpx.Response(s, text="x") for s in (400, 401, 403, 404, 429, 500, 502, 503, 504)]
    + [httpx.Response(200, text="garbage"), ok({}), ok({"id": 1, "synth_state": "error"}),
       httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ReadTimeout, httpx.ReadError,
       httpx.WriteError, httpx.WriteTimeout, httpx.RemoteProtocolError]
)


def scrub_check(text: str) -> None:
    assert SECRET not in text
    assert SECRET.lower() not in text.lower()


async def exercise(p, provider: str, tmp_path) -> list[BaseException]:
    body = XY_BODY if provider == "xingyun" else UNI_BODY
    deck = tmp_path / "d.pptx"
    deck.write_bytes(b"deck")
    calls = [lambda: p.submit(RenderRequest(provider, body)), lambda: p.status("12"), lambda: p.cancel("12"),
             lambda: p.preview_url("12"), lambda: p.download("https://oss.test/v.mp4", tmp_path / "v.mp4")]
    if provider == "xingyun":
        calls.append(lambda: p.submit(RenderRequest(provider, body, ppt_path=deck)))
    errors = []
    for call in calls:
        try:
            await call()
        except ProviderError as exc:
            errors.append(exc)
    return errors


@pytest.mark.parametrize("provider", ["xingyun", "unisound"])
async def test_no_secret_in_logs_errors_reprs_or_tracebacks(provider, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    make = make_xingyun if provider == "xingyun" else make_unisound
    seen = 0
    for answer in ANSWERS:
        p = make(Script(answer), attempts=2)
        scrub_check(repr(p))
        for exc in await exercise(p, provider, tmp_path):
            seen += 1
            scrub_check(str(exc))
            scrub_check(repr(exc))
            scrub_check("".join(traceback.format_exception(exc)))
    assert seen > len(ANSWERS)  # the error paths really ran
    assert caplog.records, "expected DEBUG lines for method/path/status"
    for record in caplog.records:
        scrub_check(record.getMessage())
        assert "x-token" not in record.getMessage().lower()
