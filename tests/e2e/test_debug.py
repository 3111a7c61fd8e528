"""`reconciler --debug`: the vendor clients' logs reach the user, stamped, with no secret."""

from __future__ import annotations

import re

from tests.e2e.support import SECRETS, grep_secrets

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG   reconciler\.providers: (.*)$")


def test_debug_shows_every_vendor_call_and_retry_but_no_secret(project, sim):
    project.write_specs(xingyun={"xy/a": "hello"}, unisound={"uni/a": "hello"})
    sim.faults({"queue": {"xingyun.status": ["http_503"]}})
    result = project.run("--debug", "apply", "--auto-approve")
    assert result.returncode == 0, result.stderr
    logged = [m.group(1) for m in map(LINE.match, result.stderr.splitlines()) if m]
    assert any(re.fullmatch(r"xingyun POST /\S+ -> 200 in \d+\.\d{3}s", line) for line in logged), logged
    assert any(re.fullmatch(r"unisound \w+ /api/vms/ai-vms-nrt/\S+ -> 200 in \d+\.\d{3}s", line) for line in logged)
    assert any("transient failure, retry 1/" in line and "503" in line for line in logged), logged
    assert any(line.startswith("unisound GET ") for line in logged)  # the one-shot download
    assert grep_secrets(result.stdout, result.stderr) == []
    assert SECRETS["UNISOUND_SECRET"] not in result.stderr


def test_without_debug_there_are_no_log_lines(project, sim):
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("apply", "--auto-approve")
    assert result.returncode == 0, result.stderr
    assert "reconciler.providers" not in result.stderr


def test_v_is_short_for_debug(project, sim):
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("-v", "apply", "--auto-approve")
    assert result.returncode == 0, result.stderr
    assert "DEBUG   reconciler.providers: xingyun POST " in result.stderr
