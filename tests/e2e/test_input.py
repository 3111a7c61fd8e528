"""Bad input against a live `reconciler sim`: the console script makes no vendor call
and changes nothing; and an ``outputs/`` that is a symlink keeps relative paths."""

from __future__ import annotations

from tests.e2e.support import assert_consistent


def test_outputs_folder_as_a_symlink_keeps_relative_paths(project, sim, tmp_path):
    """Before, state and manifest recorded the resolved absolute path of each output."""
    disk = tmp_path / "big-disk"
    disk.mkdir()
    (project.root / "outputs").symlink_to(disk, target_is_directory=True)
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = project.manifest()["videos"]
    assert manifest["xy/a"]["file"] == "outputs/xy/a.mp4" and manifest["uni/a"]["file"] == "outputs/uni/a.mp4"
    assert {v.output_file for v in project.recorded().values()} == {"outputs/xy/a.mp4", "outputs/uni/a.mp4"}
    assert (disk / "xy/a.mp4").is_file()
    assert_consistent(project)
    creates = len(sim.calls("create"))
    assert "No changes" in project.apply().stdout  # the outputs are found where they were recorded
    assert len(sim.calls("create")) == creates == 2


def test_a_zero_byte_state_never_reads_as_empty(project, sim):
    """Before, apply took a zero-byte DB for an empty state and paid for every video again."""
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    assert project.apply().returncode == 0
    creates = len(sim.calls("create"))
    manifest = (project.root / "state/manifest.json").read_bytes()
    (project.root / "state/reconciler.db").write_bytes(b"")
    for args in (["apply", "--auto-approve"], ["refresh"], ["plan"], ["status"]):
        result = project.run(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
        assert "state database is empty (0 bytes)" in result.stderr
    assert len(sim.calls("create")) == creates
    assert (project.root / "state/reconciler.db").read_bytes() == b""
    assert (project.root / "state/manifest.json").read_bytes() == manifest


def test_colliding_output_paths_are_refused_before_any_call(project, sim):
    project.write_specs(xingyun={"c": "a", "c.mp4/x": "b"}, unisound={"Launch/Intro": "c", "launch/intro": "d"})
    result = project.apply()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert "specs/xingyun.yaml:7: videos.c: output path collides with c.mp4/x" in result.stderr
    assert "videos.Launch/Intro: output path collides with launch/intro" in result.stderr
    assert sim.ledger() == []
    assert not (project.root / "outputs").exists()
    assert not (project.root / "state/reconciler.db").exists()
