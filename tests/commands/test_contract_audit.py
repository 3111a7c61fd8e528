"""Regressions found by a black-box audit against the user contract (docs/): each test drives the real
console entry point (``python -m reconciler -C``) on a temp project with ``endpoint: sim``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FAST_FIRST_POLL

SPEC = """\
defaults:
  provider: unisound
  speech_param: {vcn: xuanxuan-plus, speed: 55}
  video_param: {template: yadi_01, background: 1}
videos:
  faq/q1:
    text: 你好。
  faq/q2:
    text: 请您再说一遍<mute>300</mute>或说取消。
"""

SIM_CONFIG = "providers:\n  xingyun: {endpoint: sim}\n  unisound: {endpoint: sim}\n"


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "faq.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(SIM_CONFIG, encoding="utf-8")
    return tmp_path


def run(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env.update(FAST_FIRST_POLL)
    env["RECONCILER_SIM_RENDER_SECONDS"] = "0.2"
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(root), *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def plan_json(root: Path) -> dict:
    res = run(root, "plan", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_apply_reads_yes_piped_on_stdin_like_terraform(project):
    refused = run(project, "apply", stdin="no\n")
    assert refused.returncode == 1 and "Apply cancelled." in refused.stdout
    assert not (project / "state/manifest.json").exists()

    no_answer = run(project, "apply")  # stdin is /dev/null: nobody to ask
    assert no_answer.returncode == 1 and "--auto-approve" in no_answer.stderr
    assert "Traceback" not in no_answer.stderr

    accepted = run(project, "apply", stdin="yes\n")
    assert accepted.returncode == 0, accepted.stderr
    videos = json.loads((project / "state/manifest.json").read_text())["videos"]
    assert {v["status"] for v in videos.values()} == {"finished"}


def test_default_vars_file_spelled_out_in_config_may_be_missing(project):
    (project / "reconciler.yaml").write_text("vars: [vars.yaml]\n" + SIM_CONFIG, encoding="utf-8")
    res = run(project, "validate")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "2 videos OK"

    (project / "reconciler.yaml").write_text("vars: [vars.yaml, other.yaml]\n", encoding="utf-8")
    res = run(project, "validate")
    assert res.returncode == 1
    assert "reconciler.yaml:1:" in res.stderr and "other.yaml" in res.stderr


def test_a_deleted_or_truncated_output_is_replaced_by_the_next_plan(project):
    assert run(project, "apply", "--auto-approve").returncode == 0
    (project / "outputs/faq/q1.mp4").unlink()
    (project / "outputs/faq/q2.mp4").write_bytes(b"truncated")

    doc = plan_json(project)
    actions = {c["address"]: (c["action"], c["reason"]) for c in doc["changes"]}
    assert actions["faq/q1"][0] == "replace" and "missing" in actions["faq/q1"][1]
    assert actions["faq/q2"][0] == "replace"
    assert not actions["faq/q1"][1].startswith("output lost: output lost")
    assert doc["summary"] == {"create": 0, "replace": 2, "update": 0, "delete": 0, "noop": 0}
    assert run(project, "plan", "--detailed-exitcode").returncode == 2

    assert run(project, "apply", "--auto-approve").returncode == 0
    assert (project / "outputs/faq/q1.mp4").stat().st_size > 1000
    assert run(project, "plan", "--detailed-exitcode").returncode == 0


def test_lost_output_reason_is_not_doubled_after_refresh(project):
    assert run(project, "apply", "--auto-approve").returncode == 0
    (project / "outputs/faq/q1.mp4").unlink()
    assert run(project, "refresh").returncode == 0
    reasons = {c["address"]: c["reason"] for c in plan_json(project)["changes"]}
    assert reasons["faq/q1"].startswith("output lost: ") and "output lost: output lost" not in reasons["faq/q1"]


def test_downloaded_outputs_are_world_readable_like_the_manifest(project):
    assert run(project, "apply", "--auto-approve").returncode == 0
    mode = stat.S_IMODE((project / "outputs/faq/q1.mp4").stat().st_mode)
    assert mode & 0o044 == 0o044, oct(mode)


def test_sim_rejects_an_impossible_port_without_a_traceback(project):
    res = run(project, "sim", "--port", "99999")
    assert res.returncode == 1 and "Traceback" not in res.stderr and "--port" in res.stderr


def test_watch_accepts_a_sub_second_interval(project):
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(project), "watch", "--interval", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RECONCILER_SIM_RENDER_SECONDS": "0.2"})
    try:
        for _ in range(100):
            if (project / "state/manifest.json").exists():
                videos = json.loads((project / "state/manifest.json").read_text())["videos"]
                if len(videos) == 2 and all(v["status"] == "finished" for v in videos.values()):
                    break
            try:
                proc.wait(timeout=0.2)
                break  # exited early: fail below
            except subprocess.TimeoutExpired:
                pass
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_a_sim_process_on_loopback_needs_no_credentials(tmp_path):
    """`reconciler sim` accepts sim-app/sim-secret when no credentials are set, and so
    does the tool when its endpoint is on loopback (never a real vendor)."""
    from reconciler.sim import start_in_thread

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "faq.yaml").write_text(SPEC, encoding="utf-8")
    sim = start_in_thread(state_dir=tmp_path / "simstate", render_seconds=0.2)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
        env.update(FAST_FIRST_POLL)
        env["UNISOUND_ENDPOINT"] = sim.url
        res = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(tmp_path), "apply", "--auto-approve"],
                             capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        sim.stop()
    assert res.returncode == 0, res.stderr
    videos = json.loads((tmp_path / "state" / "manifest.json").read_text())["videos"]
    assert {v["status"] for v in videos.values()} == {"finished"}


def test_a_plan_saved_after_a_crash_is_applied_as_planned(project):
    """A dead writer's intent reads as unknown in `plan --out` and in `apply FILE` alike,
    so the saved plan is not refused as stale; the unknown create is not sent again
    (docs/specs.md) until a person asks with --replace."""
    from reconciler.config import load_config
    from reconciler.specs import loader
    from reconciler.state.sqlite import StateStore

    config = load_config(project)
    store = StateStore(config.state_path)
    try:
        store.begin_attempt(loader.load_specs(config, {}).desired()["faq/q1"], holder="apply pid 1")
    finally:
        store.close()
    saved = run(project, "plan", "--out", "after-crash.plan")
    assert saved.returncode == 0, saved.stderr
    assert "Outcome unknown" in saved.stdout and "reconciler apply --replace faq/q1" in saved.stdout
    applied = run(project, "apply", "after-crash.plan")
    assert "stale" not in applied.stderr and "Unknown:" in applied.stdout, applied.stdout + applied.stderr
    videos = json.loads((project / "state" / "manifest.json").read_text())["videos"]
    assert videos["faq/q1"]["status"] == "unknown" and videos["faq/q2"]["status"] == "finished"
    on_purpose = run(project, "apply", "--auto-approve", "--replace", "faq/q1")
    assert on_purpose.returncode == 0, on_purpose.stdout + on_purpose.stderr
    videos = json.loads((project / "state" / "manifest.json").read_text())["videos"]
    assert videos["faq/q1"]["status"] == "finished"
