"""Outputs in a bucket end to end (docs/outputs.md, issue 13): the real console script
against a `reconciler sim` process and a real S3 server (SeaweedFS, tests/s3server.py).
Objects, keys, metadata and sizes are read back from the bucket itself; renders paid
and one-shot links fetched are counted in the sim's ledger."""

from __future__ import annotations

import json

from tests.e2e.support import (
    Project,
    S3Project,
    assert_no_duplicate_renders,
    assert_s3_consistent,
    grep_secrets,
    on_both_backends,
    wait_until,
)
from tests.s3server import SECRET_KEY


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project, *args: str, **env: str):
    result = project.apply(*args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@on_both_backends
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
    assert_no_duplicate_renders(project)
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


def test_a_replace_keeps_the_old_object_until_the_new_one_is_published(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "v1", "xy/b": "b"}, unisound={"uni/a": "v1"})
    applied(project)
    old = {a: project.manifest()["videos"][a] for a in ("xy/a", "uni/a")}
    project.write_specs(xingyun={"xy/a": "v2", "xy/b": "b"}, unisound={"uni/a": "v2"})
    sim.faults({"render_seconds": 3.0})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len([c for c in sim.calls("create") if c["ok"]]) == 5, what="the two new renders")
    wait_until(lambda: all(v.status.value == "rendering" for a, v in project.recorded().items() if a != "xy/b"),
               what="both replaces rendering")
    # while the new renders run, the old objects are still there and still published
    for address, entry in old.items():
        assert project.manifest()["videos"][address]["file"] == entry["file"]
        assert project.head(project.key(address, entry["sha256"])) == (entry["bytes"], {"sha256": entry["sha256"]})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert_s3_consistent(project)  # the old objects are gone, the new ones published
    for address, entry in old.items():
        assert project.manifest()["videos"][address]["sha256"] != entry["sha256"]
    assert creates(sim) == 5


def test_a_replace_whose_upload_fails_keeps_the_old_object_published(s3_project, sim, s3_proxy):
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(unisound={"uni/a": "v1", "uni/b": "b"})
    applied(project)
    old = project.manifest()["videos"]["uni/a"]
    project.write_specs(unisound={"uni/a": "v2", "uni/b": "b"})
    s3_proxy.fail(503, method="PUT")
    failed = project.apply()
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stdout + failed.stderr
    entry = project.manifest()["videos"]["uni/a"]
    assert (entry["file"], entry["sha256"], entry["bytes"]) == (old["file"], old["sha256"], old["bytes"])
    assert project.head(project.key("uni/a", old["sha256"])) is not None
    assert len(project.staged()) == 1  # the new video, verified and kept for the next upload
    s3_proxy.clear()
    downloads = len(sim.calls("download", "unisound"))
    applied(project)
    assert len(sim.calls("download", "unisound")) == downloads  # the one-shot link is not asked again
    assert creates(sim) == 3
    assert project.manifest()["videos"]["uni/a"]["sha256"] != old["sha256"]
    assert_s3_consistent(project)


def test_a_delete_removes_the_entry_and_its_objects(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"}, unisound={"uni/a": "a"})
    applied(project)
    gone = {a: project.manifest()["videos"][a]["sha256"] for a in ("xy/a", "uni/a")}
    cached = project.objects(cache=True)
    project.write_specs(xingyun={"xy/b": "b"})
    result = applied(project)
    assert "2 deleted" in result.stdout, result.stdout
    assert set(project.manifest()["videos"]) == {"xy/b"}
    for address, sha in gone.items():
        assert project.head(project.key(address, sha)) is None
    assert project.objects(cache=True) == cached  # the render cache keeps them (docs/cache.md)
    assert_s3_consistent(project)


def test_keep_deleted_outputs_keeps_the_objects(s3_project, sim):
    project = s3_project
    project.configure("keep_deleted_outputs: true\n")
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    applied(project)
    sha = project.manifest()["videos"]["xy/a"]["sha256"]
    project.write_specs(xingyun={"xy/b": "b"})
    applied(project)
    assert set(project.manifest()["videos"]) == {"xy/b"}
    kept = project.key("xy/a", sha)
    assert_s3_consistent(project, kept=frozenset({kept}))
    assert project.head(kept) is not None


def test_refresh_after_objects_vanished_fetches_xingyun_again_and_reports_unisound_lost(s3_project, sim):
    """Someone deleted the published objects in the bucket: refresh sees it with a HEAD
    per object, gets Xingyun's again from its link (no render), and reports the one-shot
    Unisound output lost; the plan then serves it from the render cache: no render."""
    project = s3_project
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    applied(project)
    for key in project.objects():
        project.delete_object(key)
    downloads = {v: len(sim.calls("download", v)) for v in ("xingyun", "unisound")}
    result = project.run("refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 output(s) lost: uni/a" in result.stdout, result.stdout
    assert len(sim.calls("download", "xingyun")) == downloads["xingyun"] + 1
    assert len(sim.calls("download", "unisound")) == downloads["unisound"]  # never a second GET of a one-shot link
    assert creates(sim) == 2
    recorded = project.recorded()
    assert recorded["uni/a"].output_lost and recorded["xy/a"].has_output
    assert project.manifest()["videos"]["uni/a"]["file"] is None
    (change,) = [c for c in project.plan_json()["changes"] if c["address"] == "uni/a"]
    assert change["action"] == "replace" and change["renders"] == 0, change
    applied(project)
    assert creates(sim) == 2
    assert_s3_consistent(project)


def test_refresh_reports_an_object_changed_in_the_bucket(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "a"})
    applied(project)
    (key,) = project.objects()
    project.s3.client().put_object(Bucket=project.bucket, Key=key, Body=b"not the video")
    result = project.run("refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert creates(sim) == 1 and len(sim.calls("download")) == 2  # fetched again, not rendered
    assert_s3_consistent(project)


def test_plan_validate_and_status_do_not_load_the_s3_library(tmp_path, s3_project, sim):
    """boto3 costs ~250 ms an import: only a run that really calls a bucket loads it."""
    local = Project(tmp_path / "local", sim)
    for proj in (local, s3_project):
        proj.write_specs(xingyun={"xy/a": "a"})
        for args in (("validate",), ("plan",), ("plan", "--json"), ("status",)):
            result = proj.run(*args, PYTHONPROFILEIMPORTTIME="1")
            assert result.returncode == 0, result.stdout + result.stderr
            imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                        if line.startswith("import time:")}
            assert "reconciler" in imported, args
            assert not imported & {"boto3", "botocore", "s3transfer"}, (proj.root, args)


def _no_bytes_through_this_machine(proxy) -> None:
    """Since the proxy's log was cleared: no object uploaded or downloaded (a copy is a
    PUT with an x-amz-copy-source and no body)."""
    uploads = [e for e in proxy.requests("PUT") + proxy.requests("POST") if e.length > 0 or e.copy_source is None]
    downloads = [e for e in proxy.requests("GET") if e.key.endswith(".mp4")]
    assert uploads == [] and downloads == [], (uploads, downloads)


def test_render_cache_rename_and_revert_copy_objects_server_side(s3_project, sim, s3_proxy):
    """docs/cache.md with a bucket: renaming an address or reverting an edit costs no
    render, no vendor call, and no byte through this machine (a server-side copy)."""
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/intro": "欢迎"})
    applied(project)
    first = project.manifest()["videos"]["uni/intro"]
    calls = len(sim.ledger())

    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/opening": "欢迎"})  # a rename
    s3_proxy.log.clear()
    result = applied(project)
    assert "from the render cache" in result.stderr, result.stderr
    assert len(sim.ledger()) == calls  # not one vendor call
    _no_bytes_through_this_machine(s3_proxy)
    assert s3_proxy.requests("PUT") and all(e.copy_source for e in s3_proxy.requests("PUT"))
    entry = project.manifest()["videos"]["uni/opening"]
    assert (entry["sha256"], entry["bytes"]) == (first["sha256"], first["bytes"])
    assert project.head(project.key("uni/intro", first["sha256"])) is None  # the old address was deleted
    assert_s3_consistent(project)

    project.write_specs(xingyun={"xy/a": "edited"}, unisound={"uni/opening": "欢迎"})  # an edit: one render
    applied(project)
    assert creates(sim) == 3
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/opening": "欢迎"})  # reverted
    s3_proxy.log.clear()
    calls = len(sim.ledger())
    applied(project)
    assert len(sim.ledger()) == calls and creates(sim) == 3
    _no_bytes_through_this_machine(s3_proxy)
    assert_s3_consistent(project)


def test_cache_prune_removes_old_cached_objects(s3_project, sim):
    import sqlite3

    project = s3_project
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    applied(project)
    project.write_specs(xingyun={"xy/a": "a"})
    applied(project)  # xy/b deleted: its cached object stays
    assert len(project.objects(cache=True)) == 2
    db = sqlite3.connect(project.root / "state/reconciler.db")
    db.execute("UPDATE cache SET used_at = '2000-01-01T00:00:00+00:00'")
    db.commit()
    db.close()
    pruned = project.run("cache", "prune")
    assert pruned.returncode == 0 and "Pruned 1 cached render " in pruned.stdout, pruned.stdout + pruned.stderr
    fingerprint = project.recorded()["xy/a"].fingerprint
    assert list(project.objects(cache=True)) == [f"{project.prefix}/.cache/{fingerprint}.mp4"]  # a's: in use
    assert_s3_consistent(project)


def test_an_output_whose_cache_copy_failed_is_still_never_paid_for_again(s3_project, sim, s3_proxy):
    """docs/cache.md: a render already paid for is never paid again while its output is
    kept. The copy into the cache failed (a bucket hiccup), but the published object is
    kept: renaming the address later must still cost no render."""
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(unisound={"uni/intro": "欢迎", "uni/b": "b"})
    s3_proxy.fail(503, method="PUT", path_contains="/.cache/")
    first = project.apply()
    assert "render cache" in first.stdout + first.stderr, first.stdout + first.stderr  # said
    assert project.recorded()["uni/intro"].has_output
    s3_proxy.clear()
    project.write_specs(unisound={"uni/opening": "欢迎", "uni/b": "b"})
    assert "from the render cache" in project.run("plan").stdout  # the estimate counts no render for it
    applied(project)
    assert creates(sim) == 2, "the renamed video was rendered again"
    assert_s3_consistent(project)


def test_two_machines_sharing_a_state_and_a_bucket_see_the_same_videos(tmp_path, sim, s3_server, s3_bucket, pg_url):
    """The team setup (docs/team.md and §9): one PostgreSQL state, one bucket, two
    checkouts. What one machine published, the other neither fetches nor renders again,
    and a rename on the other machine is served from the bucket's render cache."""
    a = S3Project(tmp_path / "a", sim, s3_server, s3_bucket, state_url=pg_url)
    b = S3Project(tmp_path / "b", sim, s3_server, s3_bucket, state_url=pg_url)
    for machine in (a, b):
        machine.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/intro": "欢迎"})
    applied(a)
    calls = len(sim.ledger())
    assert b.plan_actions() == {"xy/a": "noop", "uni/intro": "noop"}
    refreshed = b.run("refresh")
    assert refreshed.returncode == 0 and "lost" not in refreshed.stdout, refreshed.stdout + refreshed.stderr
    assert "No changes" in applied(b).stdout
    assert len(sim.ledger()) == calls  # b asked the vendors nothing: every object is in the bucket
    b.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/opening": "欢迎"})
    applied(b)
    assert len(sim.ledger()) == calls and creates(sim) == 2
    assert_s3_consistent(b)


def test_a_one_shot_download_waiting_for_its_upload_on_one_machine_costs_the_other_nothing(
        tmp_path, sim, s3_server, s3_bucket, s3_proxy, pg_url):
    """docs/team.md + §9: machine A downloaded a Unisound output (its link serves once) but
    could not upload it (the bucket answered 503 there). Machine B, sharing the state,
    neither downloads it again (the link is used) nor counts it lost (a paid render): it
    says A holds it. Once A's bucket answers, A publishes it; nothing was paid twice."""
    a = S3Project(tmp_path / "a", sim, s3_server, s3_bucket, state_url=pg_url)
    b = S3Project(tmp_path / "b", sim, s3_server, s3_bucket, state_url=pg_url)
    for machine in (a, b):
        machine.write_specs(unisound={"uni/intro": "欢迎"})
    a.endpoint = s3_proxy.url
    s3_proxy.fail(503, method="PUT")
    failed = a.apply()
    assert failed.returncode == 1 and len(a.staged()) == 1, failed.stdout + failed.stderr

    for command in (("refresh",), ("apply", "--auto-approve")):
        result = b.run(*command)
        said = result.stdout + result.stderr
        assert "Traceback" not in said and "lost" not in said, said
        assert "one-shot download was made on" in said, said
    assert len(sim.calls("download", "unisound")) == 1  # the used link was not asked again
    assert creates(sim) == 1  # and nothing was rendered again
    assert b.plan_actions() == {"uni/intro": "noop"}

    s3_proxy.clear()
    applied(a, "--auto-approve")
    assert creates(sim) == 1 and len(sim.calls("download", "unisound")) == 1
    status = b.run("status", "--json")  # the shared state, as B reads it
    assert json.loads(status.stdout)["videos"]["uni/intro"]["file"].startswith("s3://"), status.stdout
    assert_s3_consistent(a)
