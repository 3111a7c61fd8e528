"""`apply --no-wait` + `reconciler refresh`, and refresh's check of the output files, on both
state backends."""

from __future__ import annotations

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, on_both_backends, wait_until

pytestmark = on_both_backends
TERMINAL = {"finished", "done", "error", "cancel"}


def _all_rendered(sim) -> bool:
    tasks = sim.tasks().values()
    return bool(tasks) and all(t["state"] in TERMINAL for t in tasks)


def test_no_wait_then_refresh_converges(project, sim):
    project.standard_specs()
    sim.faults({"render_seconds": 1.5})
    submitted = project.apply("--no-wait")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "reconciler refresh" in submitted.stdout
    assert {v.status.value for v in project.recorded().values()} == {"rendering"}
    assert sim.calls("download") == []

    early = project.run("refresh")
    assert early.returncode == 0, early.stderr
    wait_until(lambda: _all_rendered(sim), what="the sim to finish every render")
    creates = len(sim.calls("create"))
    result = project.run("refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 finished" in result.stdout
    assert len(sim.calls("create")) == creates  # refresh never renders
    assert_consistent(project)
    assert_no_duplicate_renders(project)
    assert "No changes" in project.apply().stdout


def test_refresh_fetches_missing_and_modified_outputs_again_and_loses_only_one_shot_ones(project, sim):
    """Issue 9 §2: a published output deleted or overwritten is fetched again while the
    vendor can give it (Xingyun links can be fetched again): no paid re-render. Only a
    one-shot Unisound output is lost with its file, and proposed for a render."""
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b", "xy/c": "c"}, unisound={"uni/a": "a"})
    assert project.apply().returncode == 0
    before = project.recorded()
    (project.root / "outputs/xy/a.mp4").unlink()
    (project.root / "outputs/xy/b.mp4").write_bytes(b"not the rendered video")
    (project.root / "outputs/uni/a.mp4").unlink()
    # plan notices without a refresh: what the vendor can give again is no render
    assert project.plan_actions() == {"xy/a": "noop", "xy/b": "noop", "xy/c": "noop", "uni/a": "replace"}
    downloads, creates = len(sim.calls("download")), len(sim.calls("create"))
    result = project.run("refresh")
    assert result.returncode == 0, result.stderr
    assert "1 output(s) lost: uni/a" in result.stdout and "reconciler plan" in result.stdout
    recorded = project.recorded()
    assert recorded["uni/a"].output_lost
    for address in ("xy/a", "xy/b", "xy/c"):
        assert recorded[address].has_output and recorded[address].task_id == before[address].task_id
    assert len(sim.calls("download")) == downloads + 2 and len(sim.calls("create")) == creates
    manifest = project.manifest()["videos"]
    assert manifest["uni/a"]["file"] is None and manifest["xy/a"]["file"] == "outputs/xy/a.mp4"
    assert project.plan_actions() == {"xy/a": "noop", "xy/b": "noop", "xy/c": "noop", "uni/a": "replace"}
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 replaced" in again.stdout
    assert_consistent(project)
    lost_fp = frozenset(e["fingerprint"] for e in sim.calls("create") if e["task_id"] == before["uni/a"].task_id)
    assert_no_duplicate_renders(project, rerendered=lost_fp)


def test_apply_downloads_a_deleted_xingyun_output_again_without_a_render(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    assert project.apply().returncode == 0
    (project.root / "outputs/xy/a.mp4").unlink()
    (change,) = project.plan_json()["changes"]
    assert change["action"] == "noop" and "not downloaded yet" in change["reason"], change
    creates = len(sim.calls("create"))
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(sim.calls("create")) == creates
    assert_consistent(project)
