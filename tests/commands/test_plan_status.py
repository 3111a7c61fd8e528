"""`reconciler plan` and `reconciler status` through the real console entry point.

Each test builds a small project (the two spec files of docs/specs.md), prepares a
state with the StateStore where it needs one, and runs ``python -m reconciler -C``
in a subprocess, checking what a user sees: output, exit code, files left behind.
"""

from __future__ import annotations

import json

from reconciler.config import load_config
from reconciler.planning import saved_plan
from reconciler.sim import media
from reconciler.state import manifest
from reconciler.state.sqlite import StateStore
from tests.commands.helpers import ADDRESSES, FAQ, desired_of, record_all_finished, run


def test_plan_on_a_new_project_shows_creates_and_creates_no_state(project):
    result = run(project, "plan")
    assert result.returncode == 0, result.stderr
    for address in ADDRESSES:
        assert f"+ {address}  " in result.stdout
    assert "Plan: 3 to create, 0 to replace, 0 to update, 0 to delete, 0 unchanged." in result.stdout
    assert "Estimated cost: 3 renders" in result.stdout
    assert not (project / "state" / "reconciler.db").exists()


def test_plan_json_is_the_contract_document(project):
    result = run(project, "plan", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    assert [c["address"] for c in doc["changes"]] == ADDRESSES
    assert doc["changes"][2] == {"address": "launch/intro", "action": "create", "provider": "xingyun",
                                 "reason": "new video", "file": "specs/launch.yaml", "renders": 1}
    assert doc["summary"] == {"create": 3, "replace": 0, "update": 0, "delete": 0, "noop": 0}
    assert doc["estimate"]["renders"] == 3


def test_detailed_exitcode_is_2_with_changes_and_0_without(project):
    assert run(project, "plan", "--detailed-exitcode").returncode == 2
    record_all_finished(project)
    result = run(project, "plan", "--detailed-exitcode")
    assert result.returncode == 0, result.stderr
    assert "No changes. Your renders match the specs." in result.stdout
    assert run(project, "plan").returncode == 0


def test_plan_after_edits_shows_replace_update_and_delete(project):
    record_all_finished(project)
    faq = FAQ.replace("这是第<value>110</value>会议室。", "这是第<value>120</value>会议室。")
    faq = faq.replace("labels: {owner: support}", "labels: {owner: sales}")
    faq = faq.replace("  faq/q2:", "  faq/q3:")  # q2 renamed: a delete and a create, shown as a move
    (project / "specs" / "faq.yaml").write_text(faq, encoding="utf-8")
    result = run(project, "plan", "--json")
    assert result.returncode == 0, result.stderr
    changes = {c["address"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["faq/q1"]["action"] == "replace" and "script changed" in changes["faq/q1"]["reason"]
    assert changes["faq/q2"]["action"] == "delete" and "specs/faq.yaml" in changes["faq/q2"]["reason"]
    assert changes["faq/q3"]["action"] == "create"
    assert changes["faq/q3"]["moved_from"] == "faq/q2" and changes["faq/q2"]["moved_to"] == "faq/q3"
    assert changes["launch/intro"]["action"] == "noop"
    text = run(project, "plan")
    assert "-/+ faq/q1" in text.stdout and "faq/q2 has moved to faq/q3 (from the render cache" in text.stdout
    assert "会议室" in text.stdout  # the script diff
    assert "Plan: 1 to create, 1 to replace, 0 to update, 1 to delete, 1 unchanged." in text.stdout


def test_plan_out_saves_a_plan_apply_can_check(project):
    result = run(project, "plan", "--out", "launch.plan", "--target", "launch/")
    assert result.returncode == 0, result.stderr
    assert "reconciler apply launch.plan" in result.stdout
    saved = saved_plan.load_plan(project / "launch.plan")  # -C: relative to the project
    assert saved.request.targets == frozenset({"launch/"})
    assert [c["action"] for c in saved.plan_json["changes"]] == ["noop", "noop", "create"]
    from reconciler.specs import loader

    config = load_config(project)
    assert saved.specs_digest == loader.load_specs(config, {}).digest
    assert saved.config_digest == config.digest() and saved.state_generation == 0
    assert not (project / "state" / "reconciler.db").exists()


def test_plan_json_with_out_keeps_stdout_parseable(project):
    result = run(project, "plan", "--json", "--out", "p.plan")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    assert "reconciler apply p.plan" in result.stderr


def test_plan_refusals_are_errors_without_tracebacks(project):
    result = run(project, "plan", "--target", "nope")
    assert result.returncode == 1
    assert "Error: --target nope" in result.stderr and "Traceback" not in result.stderr

    record_all_finished(project)
    for spec in (project / "specs").iterdir():
        spec.unlink()
    result = run(project, "plan")
    assert result.returncode == 1
    assert "delete 3 of 3 recorded videos" in result.stderr and "--allow-mass-delete" in result.stderr
    allowed = run(project, "plan", "--allow-mass-delete", "--detailed-exitcode")
    assert allowed.returncode == 2
    assert "3 to delete" in allowed.stdout


def test_max_delete_share_comes_from_reconciler_yaml(project):
    record_all_finished(project)
    (project / "reconciler.yaml").write_text("max_delete_share: 0.2\n")
    (project / "specs" / "launch.yaml").unlink()
    result = run(project, "plan")
    assert result.returncode == 1 and "max_delete_share (0.2)" in result.stderr


def test_status_on_a_missing_state(project):
    result = run(project, "status")
    assert result.returncode == 0, result.stderr
    assert "No videos recorded" in result.stdout
    as_json = run(project, "status", "--json")
    assert json.loads(as_json.stdout) == {"format_version": 1, "videos": {}}
    assert not (project / "state" / "reconciler.db").exists()


def test_status_shows_each_recorded_video(project):
    record_all_finished(project, only={"faq/q1", "launch/intro"})
    store = StateStore(load_config(project).state_path)
    video = desired_of(project)["faq/q2"]
    attempt = store.begin_attempt(video, holder="test")
    store.attempt_failed("faq/q2", attempt, "23907 quota exhausted")
    store.close()
    result = run(project, "status")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "finished" in lines["faq/q1"] and "outputs/faq/q1.mp4" in lines["faq/q1"]
    assert "failed" in lines["faq/q2"] and "23907 quota exhausted" in lines["faq/q2"]
    assert "3 videos: 2 finished, 1 failed." in result.stdout


def test_status_json_is_the_manifest_document(project):
    record_all_finished(project)
    result = run(project, "status", "--json")
    assert result.returncode == 0, result.stderr
    reader = StateStore.open_readonly(load_config(project).state_path)
    try:
        assert result.stdout == manifest.render_manifest(reader.recorded())
    finally:
        reader.close()
    doc = json.loads(result.stdout)
    entry = doc["videos"]["launch/intro"]
    assert entry["status"] == "finished" and entry["file"] == "outputs/launch/intro.mp4"
    assert entry["spec_file"] == "specs/launch.yaml" and entry["bytes"] == len(media.base_clip()) + 8 + 102


def test_plan_sees_a_dead_writers_intent_as_unknown_like_apply_will(project):
    config = load_config(project)
    store = StateStore(config.state_path)
    try:
        store.begin_attempt(desired_of(project)["faq/q1"], holder="apply pid 1")  # then it died
    finally:
        store.close()
    change = {c["address"]: c for c in json.loads(run(project, "plan", "--json").stdout)["changes"]}["faq/q1"]
    assert change["action"] == "noop" and "outcome unknown" in change["reason"]
    assert "reconciler apply --replace faq/q1" in change["reason"]

    from reconciler.state.sqlite import StateLock

    lock = StateLock(config.state_path).acquire("apply")  # a live writer: its intent is in flight
    try:
        change = {c["address"]: c for c in json.loads(run(project, "plan", "--json").stdout)["changes"]}["faq/q1"]
    finally:
        lock.release()
    assert change["action"] == "noop" and "not yet sent" in change["reason"]
