"""`reconciler doctor` through the real console script, against the simulator on
127.0.0.1: all ok on the quickstart; a wrong secret, a wrong endpoint, a skewed clock
and a wrong Unisound auth placement each reported as an error with its fix (and for
the placement, the reconciler.yaml lines that then pass); never a secret or signature."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import sim
from reconciler.doctor.checks import run_checks
from reconciler.doctor.vendors import config_lines
from reconciler.model import DesiredVideo, Status, UnisoundAuth
from reconciler.state.sqlite import StateStore

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("reconciler"))
SECRETS = {"XINGYUN_APP_ID": "xy-app", "XINGYUN_APP_SECRET": "xy-Secret-4c1d",
           "UNISOUND_APPKEY": "uni-key", "UNISOUND_SECRET": "uni-Secret-9e2f"}
SPECS = """\
videos:
  launch/intro:
    provider: xingyun
    look_name: AM054_Jap_9021_new
    tts_vcn_name: XMOV_HN_TTS__236
    studio_name: youling_2d_v
    segment: [{text: 同期将举行多场论坛。}]
  faq/q1:
    provider: unisound
    text: 这是第<value>110</value>会议室。
    speech_param: {vcn: xuanxuan-plus}
    video_param: {template: yadi_01, background: 1}
"""
SIGNATURE_LIKE = re.compile(r"\b[0-9A-F]{64}\b|\b[0-9a-f]{32}\b")


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name in ("RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    srv = sim.start_in_thread(state_dir=tmp_path / "simstate", render_seconds=1,
                              credentials={"xingyun": {"app_id": "xy-app", "secret": SECRETS["XINGYUN_APP_SECRET"]},
                                           "unisound": {"appkey": "uni-key", "secret": SECRETS["UNISOUND_SECRET"]}})
    yield srv
    srv.stop()


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "a.yaml").write_text(SPECS, encoding="utf-8")
    return root


def doctor(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_SIM"))}
    done = subprocess.run([CLI, "-C", str(root), "doctor", *args], capture_output=True, text=True,
                          env={**base, **env}, timeout=120)
    for secret in SECRETS.values():
        if "Secret" in secret:
            assert secret not in done.stdout + done.stderr
    assert not SIGNATURE_LIKE.search(done.stdout + done.stderr)  # no token, no signature
    assert "Traceback" not in done.stderr
    return done


def checks(done: subprocess.CompletedProcess) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(done.stdout)}


def vendor_env(server, **changes: str) -> dict[str, str]:
    return {**SECRETS, "XINGYUN_ENDPOINT": server.url, "UNISOUND_ENDPOINT": server.url, **changes}


def test_the_quickstart_is_all_ok(tmp_path):
    root = tmp_path / "quickstart"
    root.mkdir()
    for name in ("specs", "decks"):
        shutil.copytree(REPO / name, root / name)
    for name in ("reconciler.yaml", "vars.yaml"):
        shutil.copy(REPO / name, root / name)
    done = doctor(root, {})
    assert done.returncode == 0, done.stdout
    lines = done.stdout.strip().splitlines()
    assert all(line.startswith("ok ") for line in lines[:-2]) and "0 error(s)" in lines[-1]
    as_json = doctor(root, {}, "--json")
    assert as_json.returncode == 0
    found = checks(as_json)
    assert {"config", "specs", "state", "lock", "xingyun credentials", "xingyun api", "xingyun clock",
            "unisound credentials", "unisound api", "unisound clock", "unknown creates", "stalled renders",
            "downloads", "outputs"} <= set(found)
    assert {c["status"] for c in found.values()} == {"ok"}
    assert not (root / "state" / "reconciler.db").exists()  # doctor changes no state


def test_a_real_endpoint_with_the_right_credentials_is_ok(server, project):
    done = doctor(project, vendor_env(server), "--json")
    assert done.returncode == 0, done.stdout
    found = checks(done)
    assert found["xingyun api"]["status"] == found["unisound api"]["status"] == "ok"
    assert "ms round trip" in found["xingyun api"]["detail"]
    assert "XINGYUN_APP_ID and XINGYUN_APP_SECRET set" in found["xingyun credentials"]["detail"]
    calls = server.ledger()
    assert {(e["vendor"], e["kind"]) for e in calls} == {("xingyun", "status"), ("unisound", "status")}
    assert [e["error_code"] for e in calls] in ([30004, 23910], [23910, 30004])  # free calls, never a render


def test_a_wrong_secret_is_an_error_naming_the_variable(server, project):
    done = doctor(project, vendor_env(server, XINGYUN_APP_SECRET="wrong-Secret-0000"))
    assert done.returncode == 1
    assert "wrong-Secret-0000" not in done.stdout + done.stderr
    line = next(l for l in done.stdout.splitlines() if l.startswith("error   xingyun api"))
    assert "[error 20002]" in line
    assert "Check XINGYUN_APP_SECRET and the local clock." in done.stdout
    assert re.search(r"^ok\s+unisound api", done.stdout, re.M)


def test_an_unexpected_answer_after_authentication_is_only_a_warning(server, project):
    server.set_faults({"queue": {"xingyun.status": [{"fault": "error", "code": 30005}]}})
    done = doctor(project, vendor_env(server), "--json")
    assert done.returncode == 0
    api = checks(done)["xingyun api"]
    assert api["status"] == "warning" and "[error 30005]" in api["detail"]


def test_missing_credentials_name_the_variables(server, project):
    env = vendor_env(server)
    del env["UNISOUND_SECRET"], env["UNISOUND_APPKEY"]
    env["UNISOUND_ENDPOINT"] = "https://ai-api.hivoice.cn"  # no network: it fails before any call
    found = checks(doctor(project, env, "--json"))
    assert found["unisound credentials"]["status"] == "error"
    assert "UNISOUND_APPKEY" in found["unisound credentials"]["fix"]
    assert "unisound api" not in found


def test_a_wrong_endpoint_is_an_error_with_the_setting_to_fix(server, project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed
    found = checks(doctor(project, vendor_env(server, XINGYUN_ENDPOINT=closed), "--json"))
    assert found["xingyun api"]["status"] == "error"
    assert "cannot reach" in found["xingyun api"]["detail"]
    assert "XINGYUN_ENDPOINT is set" in found["xingyun api"]["fix"]
    found = checks(doctor(project, vendor_env(server, UNISOUND_ENDPOINT=server.url + "/v2"), "--json"))
    assert found["unisound api"]["status"] == "error"
    assert "HTTP 404" in found["unisound api"]["detail"] and "not the unisound API" in found["unisound api"]["detail"]


def test_a_skewed_clock_is_an_error_with_the_clock_fix(server, project):
    server.set_faults({"clock_offset_seconds": -150})  # the server is 150 s behind us
    done = doctor(project, vendor_env(server), "--json")
    assert done.returncode == 1
    found = checks(done)
    assert found["xingyun api"]["status"] == "error" and "[error 20003]" in found["xingyun api"]["detail"]
    assert "NTP" in found["xingyun api"]["fix"]
    for vendor in ("xingyun", "unisound"):
        clock = found[f"{vendor} clock"]
        assert clock["status"] == "error"
        assert re.search(r"the local clock is 1(49|50|51) s ahead of the server's", clock["detail"])
        assert "NTP" in clock["fix"]


@pytest.mark.parametrize("place, names", [
    ("body", {"appkey": "appkey", "timestamp": "time", "signature": "sign"}),  # the long-text TTS API's
    ("query", {"appkey": "appkey", "timestamp": "timestamp", "signature": "signature"}),  # file ASR's
    ("header", {"appkey": "appKey", "timestamp": "timestamp", "signature": "signature"}),
])
def test_a_wrong_unisound_placement_is_found_and_its_config_lines_work(server, project, place, names):
    server.set_faults({"unisound_auth": {"in": place, "names": names}})
    done = doctor(project, vendor_env(server), "--json")
    assert done.returncode == 1
    api = checks(done)["unisound api"]
    assert api["status"] == "error"
    assert "refuses the auth values as query parameters appKey/timestamp/signature" in api["detail"]
    expected = config_lines(UnisoundAuth(place, **names))
    assert expected in api["fix"]
    (project / "reconciler.yaml").write_text(api["fix"].split("\n", 1)[1] + "\n", encoding="utf-8")
    again = doctor(project, vendor_env(server))
    assert again.returncode == 0, again.stdout
    assert re.search(r"^ok\s+unisound api", again.stdout, re.M)


def test_a_wrong_unisound_secret_is_not_blamed_on_the_placement(server, project):
    found = checks(doctor(project, vendor_env(server, UNISOUND_SECRET="wrong-Secret-1111"), "--json"))
    api = found["unisound api"]
    assert api["status"] == "error" and "no signature was accepted" in api["detail"]
    assert "UNISOUND_SECRET" in api["fix"] and "auth_in" not in api["fix"]


def _desired(address: str, provider: str = "xingyun") -> DesiredVideo:
    return DesiredVideo(address, provider, {"text": address}, "f-" + address, "specs/a.yaml", 1)


def test_renders_that_need_a_person_are_warnings(project):
    config_root = project
    (project / "reconciler.yaml").write_text("providers: {xingyun: {endpoint: sim}, unisound: {endpoint: sim}}\n")
    store = StateStore(project / "state" / "reconciler.db")
    try:
        n = store.begin_attempt(_desired("launch/intro"), "test")
        store.attempt_failed("launch/intro", n, "answer lost", status=Status.UNKNOWN)
        n = store.begin_attempt(_desired("faq/q1", "unisound"), "test")
        store.attempt_submitted("faq/q1", n, "ab" * 16)
        n = store.begin_attempt(_desired("old/one", "unisound"), "test")
        store.attempt_submitted("old/one", n, "cd" * 16)
        store.record_task("old/one", "cd" * 16, Status.FINISHED, video_url="http://x/1.mp4",
                          finished_at="2026-01-01T00:00:00+00:00")
    finally:
        store.close()
    later = dt.datetime(2026, 1, 2, 12, tzinfo=dt.timezone.utc) + dt.timedelta(days=400)
    found = {c.name: c for c in run_checks(config_root, {}, now=later)}
    assert found["unknown creates"].status == "warning" and "launch/intro" in found["unknown creates"].detail
    assert "--replace" in found["unknown creates"].fix
    assert found["stalled renders"].status == "warning" and "faq/q1" in found["stalled renders"].detail
    assert found["downloads"].status == "warning" and "old/one" in found["downloads"].detail
    assert found["unisound links"].status == "warning" and "refresh" in found["unisound links"].fix
    assert not any(c.status == "error" for c in found.values())
    assert {c.name for c in run_checks(config_root, {})} >= {"stalled renders"}
    now_checks = {c.name: c for c in run_checks(config_root, {})}
    assert now_checks["stalled renders"].status == "ok"  # just submitted: not stalled
