"""--debug's redaction: no secret and no credential-looking value reaches a log line."""

from __future__ import annotations

import io
import logging
import re

import pytest

from reconciler.util import logs

SECRET = "XySecret-7f3a9c1e-do-not-leak"


@pytest.mark.parametrize("message, expected", [
    (f"signing with {SECRET} failed", "signing with *** failed"),
    ("GET /api/vms/ai-vms-nrt/progress?appkey=k1&timestamp=1700&signature=ABCDEF0123",
     "GET /api/vms/ai-vms-nrt/progress?appkey=k1&timestamp=1700&signature=***"),
    ("headers: X-TOKEN: 9f8e7d6c X-APP-ID: app", "headers: X-TOKEN: *** X-APP-ID: app"),
    ('{"app_secret": "hunter2hunter2", "look_name": "AM054"}', '{"app_secret": "***", "look_name": "AM054"}'),
    ("Authorization: Bearer abc.def.ghi next", "Authorization: *** next"),
    ("xingyun POST /api/v1/video/create -> 200 in 0.012s", "xingyun POST /api/v1/video/create -> 200 in 0.012s"),
])
def test_secrets_and_credential_values_are_masked(message, expected):
    assert logs.Redact([SECRET]).redact(message) == expected


def test_a_too_short_secret_does_not_mask_ordinary_text():
    assert logs.Redact(["abc"]).redact("abcdef") == "abcdef"


def test_enable_debug_writes_utc_stamped_redacted_lines_to_stderr(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)  # the handler writes to stderr as it is at the time
    handler = logs.enable_debug([SECRET])
    try:
        log = logging.getLogger("reconciler.providers")
        log.debug("retrying with %s", SECRET)
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            log.exception("call failed")
    finally:
        logging.getLogger(logs.LOGGER).removeHandler(handler)
        logging.getLogger(logs.LOGGER).setLevel(logging.NOTSET)
    out = err.getvalue()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG   reconciler.providers: retrying with \*\*\*\n", out)
    assert "RuntimeError: boom ***" in out and SECRET not in out
