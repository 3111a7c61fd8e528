"""``reconciler sim -C PROJECT`` serves what that project's config expects."""

from __future__ import annotations

from tests.e2e.support import Project, Sim


def test_sim_command_follows_the_projects_unisound_auth_placement(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    # The Unisound auth values travel in headers for this project (config, not the default query).
    (root / "reconciler.yaml").write_text("providers:\n  unisound:\n    auth_in: header\n")
    sim = Sim(root)
    try:
        project = Project(root, sim)
        (root / "reconciler.yaml").write_text("providers:\n  unisound:\n    auth_in: header\n")
        project.write_specs(unisound={"uni/hello": "你好"})
        result = project.run("apply", "--auto-approve")
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(sim.calls("create", "unisound")) == 1
        assert "23908" not in result.stdout + result.stderr
    finally:
        sim.stop()
