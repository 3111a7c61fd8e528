"""`apply --no-wait` + `reconciler refresh`, and refresh's check of the output files."""

from __future__ import annotations

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, wait_until

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


def test_refresh_detects_missing_and_modified_outputs(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b", "xy/c": "c"})
    assert project.apply().returncode == 0
    (project.root / "outputs/xy/a.mp4").unlink()
    (project.root / "outputs/xy/b.mp4").write_bytes(b"not the rendered video")
    result = project.run("refresh")
    assert result.returncode == 0, result.stderr
    assert "2 output(s) lost" in result.stdout and "reconciler plan" in result.stdout
    recorded = project.recorded()
    assert recorded["xy/a"].output_lost and recorded["xy/b"].output_lost and not recorded["xy/c"].output_lost
    manifest = project.manifest()["videos"]
    assert manifest["xy/a"]["file"] is None and manifest["xy/c"]["file"] == "outputs/xy/c.mp4"
    assert project.plan_actions() == {"xy/a": "replace", "xy/b": "replace", "xy/c": "noop"}
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 replaced" in again.stdout
    assert_consistent(project)
