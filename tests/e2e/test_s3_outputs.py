"""Outputs in a bucket end to end (CONTRACT §9, issue 13): the real console script
against a `reconciler sim` process and a real S3 server (SeaweedFS, tests/s3server.py).
Objects, keys, metadata and sizes are read back from the bucket itself; renders paid
and one-shot links fetched are counted in the sim's ledger."""

from __future__ import annotations

import json

from tests.e2e.support import assert_no_duplicate_renders, assert_s3_consistent, grep_secrets
from tests.s3server import SECRET_KEY


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project, *args: str, **env: str):
    result = project.apply(*args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_apply_with_both_vendors_publishes_each_video_as_an_object(s3_project, sim):
    project = s3_project
    project.standard_specs()  # 3 Xingyun (one a deck), 3 Unisound
    result = applied(project)
    assert creates(sim) == 6 and len(sim.calls("download", "unisound")) == 3
    assert_s3_consistent(project)
    manifest = project.manifest()["videos"]
    assert len(manifest) == 6
    for address, entry in manifest.items():
        assert entry["file"] == project.url(address, entry["sha256"]), entry
        assert entry["bytes"] > 1000 and "url" not in entry  # no public URL configured
    status = project.run("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout) == project.manifest()
    again = applied(project)
    assert "No changes" in again.stdout and creates(sim) == 6
    state_files = project.root / "state"
    assert grep_secrets(result.stdout, result.stderr, state_files) == []
    for text in (result.stdout, result.stderr, status.stdout, *(p.read_bytes().decode("utf-8", "replace")
                                                                for p in state_files.rglob("*") if p.is_file())):
        assert SECRET_KEY not in text


def test_a_public_base_url_gives_each_video_a_url(s3_project, sim):
    project = s3_project
    project.configure(public_url="https://cdn.example.com/videos")
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    applied(project)
    assert_s3_consistent(project)
    for address, entry in project.manifest()["videos"].items():
        assert entry["url"] == f"https://cdn.example.com/videos/{address}/{entry['sha256']}.mp4"
    assert json.loads(project.run("status", "--json").stdout) == project.manifest()
