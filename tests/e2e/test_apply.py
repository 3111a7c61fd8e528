"""`reconciler apply` end to end: the console script against `reconciler sim` over HTTP,
on both state backends wherever the state is exercised (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from tests.e2e.support import (
    assert_consistent,
    assert_no_duplicate_renders,
    grep_secrets,
    on_both_backends,
    on_every_backend,
    wait_until,
)


@on_both_backends
def test_full_project_applies_then_second_apply_is_noop(project, sim):
    project.standard_specs()
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete: 6 created" in result.stdout
    assert "6 finished, 0 failed, 0 unknown" in result.stdout
    recorded = project.recorded()
    assert sorted(recorded) == ["uni/q1", "uni/q2", "uni/q3", "xy/agenda", "xy/deck", "xy/intro"]
    assert_consistent(project)
    manifest = project.manifest()["videos"]
    assert manifest["xy/intro"]["preview_image_url"]  # Xingyun's cover image
    assert manifest["uni/q1"]["file"] == "outputs/uni/q1.mp4"
    assert len(sim.calls("parse_ppt")) == 1
    # not a terminal: one line per event on stderr, with a timestamp
    assert any(line.endswith("finished  task " + recorded["uni/q1"].task_id + ": outputs/uni/q1.mp4 (" +
                             str(recorded["uni/q1"].output_bytes) + " bytes)") for line in result.stderr.splitlines())

    before = len(sim.ledger())
    again = project.apply()
    assert again.returncode == 0, again.stderr
    assert "No changes" in again.stdout
    assert sim.ledger()[before:] == []  # no vendor call at all, certainly no create
    assert_no_duplicate_renders(project)

    spec = project.root / "specs/unisound.yaml"
    spec.write_text(spec.read_text().replace("videos:\n", "  labels: {owner: support}\nvideos:\n", 1))
    labelled = project.apply()
    assert labelled.returncode == 0, labelled.stderr
    assert "3 updated" in labelled.stdout
    assert sim.ledger()[before:] == []  # an update calls no vendor
    assert project.manifest()["videos"]["uni/q2"]["labels"] == {"owner": "support"}
    assert_consistent(project)


@on_both_backends
def test_replace_keeps_old_output_until_new_one_is_verified(project, sim):
    project.write_specs(xingyun={"xy/a": "first version"}, unisound={"uni/a": "first version"})
    assert project.apply().returncode == 0
    old = project.recorded()
    old_manifest = project.manifest()["videos"]
    old_bytes = {a: (project.root / v.output_file).read_bytes() for a, v in old.items()}

    sim.faults({"render_seconds": 3.0})
    project.write_specs(xingyun={"xy/a": "second version"}, unisound={"uni/a": "second version"})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len([c for c in sim.calls("create") if c["ok"]]) == 4, what="the two new creates")
    wait_until(lambda: all(v["status"] == "rendering" for v in project.manifest()["videos"].values()),
               what="the manifest to show both renders running")
    mid = project.recorded()
    mid_manifest = project.manifest()["videos"]
    for address in ("xy/a", "uni/a"):
        assert mid[address].task_id != old[address].task_id
        assert mid[address].output_sha256 == old[address].output_sha256
        assert (project.root / old[address].output_file).read_bytes() == old_bytes[address]
        assert mid_manifest[address]["file"] == old_manifest[address]["file"]
        assert mid_manifest[address]["sha256"] == old_manifest[address]["sha256"]
        assert mid_manifest[address]["status"] == "rendering"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "2 replaced" in out
    new = project.recorded()
    for address in ("xy/a", "uni/a"):
        assert new[address].output_sha256 != old[address].output_sha256
    assert_consistent(project)


@on_both_backends
def test_delete_cancels_on_xingyun_and_abandons_on_unisound(project, sim):
    project.write_specs(xingyun={"xy/keep": "keep", "xy/gone": "gone"}, unisound={"uni/keep": "keep", "uni/gone": "gone"})
    sim.faults({"render_seconds": 30.0})
    result = project.apply("--no-wait")
    assert result.returncode == 0, result.stderr
    assert "reconciler refresh" in result.stdout
    gone = project.recorded()
    project.write_specs(xingyun={"xy/keep": "keep"}, unisound={"uni/keep": "keep"})
    plan = project.plan_json()["changes"]
    reasons = {c["address"]: c["reason"] for c in plan}
    assert "abandoned" in reasons["uni/gone"] and "cancelled" in reasons["xy/gone"]

    result = project.apply("--target", "xy/gone", "--target", "uni/gone")  # the others keep rendering
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 deleted" in result.stdout
    cancels = sim.calls("cancel")
    assert [(c["vendor"], c["task_id"]) for c in cancels] == [("xingyun", gone["xy/gone"].task_id)]
    assert "uni/gone  old abandoned" in result.stderr and "Unisound has no cancel API" in result.stderr
    assert "xy/gone  old cancelled" in result.stderr
    assert sorted(project.manifest()["videos"]) == ["uni/keep", "xy/keep"]
    assert sorted(project.recorded()) == ["uni/keep", "xy/keep"]


@on_both_backends
def test_delete_removes_output_file_and_manifest_entry(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    assert project.apply().returncode == 0
    assert (project.root / "outputs/xy/b.mp4").exists()
    project.write_specs(xingyun={"xy/a": "a"})
    result = project.apply()
    assert result.returncode == 0, result.stderr
    assert not (project.root / "outputs/xy/b.mp4").exists()
    assert list(project.manifest()["videos"]) == ["xy/a"]
    assert_consistent(project)


@on_both_backends
def test_stale_saved_plan_is_refused(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    assert project.run("plan", "--out", "a.plan").returncode == 0
    project.write_specs(xingyun={"xy/a": "a changed"})
    result = project.run("apply", "a.plan")
    assert result.returncode == 1
    assert "stale" in result.stderr and "Traceback" not in result.stderr
    assert sim.calls("create") == []

    assert project.run("plan", "--out", "b.plan").returncode == 0
    result = project.run("apply", "b.plan")  # fresh: applied without a question
    assert result.returncode == 0, result.stderr
    assert len(sim.calls("create")) == 1
    result = project.run("apply", "b.plan")  # the state moved since: refused
    assert result.returncode == 1 and "stale" in result.stderr
    assert len(sim.calls("create")) == 1


def test_without_terminal_or_auto_approve_apply_refuses(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    result = project.run("apply")
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr and "Traceback" not in result.stderr
    assert sim.calls("create") == []


@on_every_backend
def test_two_concurrent_applies_one_fails_fast_naming_the_holder(project, sim):
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    sim.faults({"render_seconds": 3600})  # the first apply holds the lock, however slow the machine
    first = project.start("apply", "--auto-approve")
    wait_until(lambda: sim.calls("create"), what="the first apply's creates")
    second = project.run("apply", "--auto-approve", timeout=10)
    assert second.returncode == 1
    assert f"pid {first.pid}" in second.stderr and "locked" in second.stderr
    refresh = project.run("refresh", timeout=10)
    assert refresh.returncode == 1 and f"pid {first.pid}" in refresh.stderr
    sim.faults({"clock_advance_seconds": 3600})  # the renders are done at the first apply's next poll
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert_consistent(project)
    assert len(sim.calls("create")) == 2


@on_both_backends
def test_no_secret_anywhere(project, sim, tmp_path):
    project.standard_specs()
    outputs = [project.apply(), project.run("plan", "--out", "saved.plan"), project.run("status", "--json"),
               project.run("refresh")]
    project.standard_specs("v2")
    outputs.append(project.apply("--no-wait"))
    outputs.append(project.run("refresh"))
    assert all(r.returncode == 0 for r in outputs), [r.stderr for r in outputs]
    texts = [r.stdout + r.stderr for r in outputs]
    store = project.store()
    try:  # the state itself, wherever it lives (a file here or the team's database)
        texts.append(json.dumps(store.dump(), default=str))
    finally:
        store.close()
    assert grep_secrets(project.root, *texts) == []
    assert json.loads(outputs[2].stdout)["videos"]
