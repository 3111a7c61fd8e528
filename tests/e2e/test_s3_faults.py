"""A bucket that misbehaves during an apply (issue 13 §6): unreachable, answering 503 or
403, slow, a connection cut mid-upload, and kill -9 between a verified download and its
upload or between the upload and its record. Each time: no video lost, none published
that is not complete, no render paid twice, and no second GET of a Unisound link (it
serves once): the verified download waits in ``state/uploads/`` for the next
apply/refresh. Faults come from the proxy of tests/s3proxy.py in front of the real
server; renders and downloads are counted in the sim's ledger."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.support import assert_no_duplicate_renders, assert_s3_consistent, wait_until
from tests.s3server import SECRET_KEY

XINGYUN = {"xy/a": "a", "xy/b": "b"}
UNISOUND = {"uni/a": "a", "uni/b": "b"}
VIDEOS = len(XINGYUN) + len(UNISOUND)


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def one_get_per_unisound_link(sim) -> None:
    tasks = [e["task_id"] for e in sim.calls("download", "unisound")]
    assert len(tasks) == len(set(tasks)) == len(UNISOUND), tasks


def _published_only_what_exists(project) -> None:
    """Whatever the manifest (if written yet) lists as published is a complete object in the bucket."""
    if not (project.root / "state/manifest.json").exists():
        return
    for address, entry in project.manifest()["videos"].items():
        if entry["file"]:
            key = project.key(address, entry["sha256"])
            assert project.head(key) == (entry["bytes"], {"sha256": entry["sha256"]}), address


def _recovers_with_no_new_render(project, sim, command: str) -> None:
    downloads = len(sim.calls("download"))
    result = project.run(command) if command == "refresh" else project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    if command == "refresh":  # refresh publishes; the apply after it has nothing to do
        again = project.apply()
        assert again.returncode == 0 and "No changes" in again.stdout, again.stdout + again.stderr
    assert creates(sim) == VIDEOS  # no render paid twice
    assert len(sim.calls("download")) == downloads  # every staged download was uploaded: none fetched again
    one_get_per_unisound_link(sim)
    assert_s3_consistent(project)
    assert_no_duplicate_renders(project)


@pytest.mark.parametrize("fault,recovery", [("down", "apply"), ("503", "refresh"), ("403", "apply"),
                                            ("cut", "refresh")])
def test_a_failing_bucket_loses_nothing_and_the_next_run_uploads_without_a_render(
        s3_project, sim, s3_proxy, fault, recovery):
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    if fault == "down":
        s3_proxy.down()
    elif fault == "cut":
        s3_proxy.cut()  # every PUT dies half-way, retries included
    else:
        s3_proxy.fail(int(fault))
    result = project.apply()
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text and SECRET_KEY not in text
    assert project.bucket in text  # the message names the bucket
    if fault == "403":
        assert "AWS_SECRET_ACCESS_KEY" in text, text
    assert creates(sim) == VIDEOS
    one_get_per_unisound_link(sim)
    recorded = project.recorded()
    assert not any(v.output_lost for v in recorded.values()), {a: v.error for a, v in recorded.items()}
    assert all(v.status.value == "finished" for v in recorded.values())
    assert all(not v.has_output for v in recorded.values())  # nothing published without its object
    assert len(project.staged()) == VIDEOS  # each verified download kept for its upload
    assert project.objects() == {}  # no half object
    assert all(e["file"] is None for e in project.manifest()["videos"].values())
    plan = project.plan_json()
    assert plan["estimate"]["renders"] == 0, plan  # nothing to render again

    s3_proxy.clear()
    s3_proxy.up()
    _recovers_with_no_new_render(project, sim, recovery)
    assert project.staged() == []


def test_an_upload_cut_once_is_retried_within_the_same_apply(s3_project, sim, s3_proxy):
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    s3_proxy.cut(times=2)
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(s3_proxy.requests("PUT", "cut")) == 2
    assert creates(sim) == VIDEOS
    one_get_per_unisound_link(sim)
    assert_s3_consistent(project)


def test_a_slow_bucket_still_completes(s3_project, sim, s3_proxy):
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    s3_proxy.slow(0.5)
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert s3_proxy.requests("PUT", "slowed")
    assert creates(sim) == VIDEOS
    assert_s3_consistent(project)


def test_wrong_credentials_are_refused_by_the_server_and_nothing_is_lost(s3_project, sim):
    """The real server's 403 (no proxy): said with what to fix, the secret never echoed."""
    project = s3_project
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    wrong = "Wrong-secret-3e9a-do-not-leak"
    result = project.apply(AWS_SECRET_ACCESS_KEY=wrong)
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "AWS_SECRET_ACCESS_KEY" in text and wrong not in text and "Traceback" not in text
    assert project.objects() == {} and len(project.staged()) == VIDEOS
    _recovers_with_no_new_render(project, sim, "apply")


def test_missing_credentials_are_a_clear_error(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "a"})
    result = project.apply(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
    text = result.stdout + result.stderr
    assert result.returncode == 1 and "AWS_ACCESS_KEY_ID" in text and "Traceback" not in text, text


@pytest.mark.parametrize("point", ["after_stage:2", "after_upload:2", "after_stage:4", "after_upload:4", "mid_stream"])
def test_kill_between_download_upload_and_record_then_apply(s3_project, sim, point):
    """kill -9 with a verified download staged but not uploaded, or uploaded but not
    recorded: the next plain apply uploads (again: same bytes, same key) and records
    it; every video published once, nothing paid twice, no staged download fetched again.
    The one loss a kill can cause is the one without a bucket too (tests/e2e/test_crash.py):
    another Unisound download was mid-stream when the process died, and its link serves
    once; it must be reported lost and rendered again visibly."""
    project = s3_project
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    if point == "mid_stream":  # killed from outside while a one-shot download streams
        sim.faults({"queue": {"unisound.download": [{"fault": "slow", "delay_ms": 20000}]}})
        crashed = project.start("apply", "--auto-approve")
        wait_until(lambda: [e for e in sim.calls("download", "unisound") if e["fault"]], what="the slow download")
        crashed.send_signal(signal.SIGKILL)
    else:
        crashed = project.start("apply", "--auto-approve", RECONCILER_TEST_CRASH_AT=point)
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    assert project.staged(), "the killed run left a download staged"
    _published_only_what_exists(project)
    staged = {p.relative_to(project.root / "state/uploads").as_posix().removesuffix(".mp4") for p in project.staged()
              if p.suffix == ".mp4" and not p.name.startswith(".")}  # verified; not a download's .part
    again = project.apply()
    assert f"took over the lock left by pid {crashed.pid}" in again.stderr
    lost = {a: v for a, v in project.recorded().items() if v.output_lost}
    rerendered: frozenset[str] = frozenset()
    assert lost or point != "mid_stream"
    if lost:
        assert again.returncode == 1 and "output lost" in again.stderr, again.stdout + again.stderr
        for address, video in lost.items():  # served once, to the killed run (mid-stream): gone
            gets = [e for e in sim.calls("download", "unisound") if e["task_id"] == video.task_id]
            assert video.provider == "unisound" and address not in staged, (address, staged)
            # the recovery's GET heard "already used" (410): the killed run had it; never served twice
            assert any(e["http_status"] == 410 for e in gets) and sum(e["ok"] for e in gets) <= 1, (address, gets)
        assert project.plan_actions() == {a: "replace" if a in lost else "noop" for a in project.plan_actions()}
        lost_tasks = {v.task_id for v in lost.values()}
        rerendered = frozenset(e["fingerprint"] for e in sim.calls("create") if e["task_id"] in lost_tasks)
        again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert creates(sim) == VIDEOS + len(lost)
    for address in staged:  # a staged download is uploaded, never fetched again
        task = project.recorded()[address].task_id
        assert len([e for e in sim.calls("download") if e["task_id"] == task]) == 1, address
    ok_gets = [e["task_id"] for e in sim.calls("download", "unisound") if e["ok"]]
    assert len(ok_gets) == len(set(ok_gets)), "a one-shot link served twice"
    # A video killed between its record and its copy into the cache is not cached (nothing
    # lost or paid now; a later rename of it would render), nor given its poster.
    assert_s3_consistent(project, cached=False, killed=True)
    assert_no_duplicate_renders(project, rerendered)
    third = project.apply()
    assert third.returncode == 0 and "No changes" in third.stdout, third.stdout + third.stderr


def test_a_bucket_that_does_not_exist_is_said_and_nothing_is_lost(tmp_path, sim, s3_server):
    from tests.e2e.support import S3Project

    project = S3Project(tmp_path / "proj", sim, s3_server, "no-such-bucket-here")
    project.write_specs(unisound={"uni/a": "a"})
    result = project.apply()
    text = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in text, text
    assert "no bucket no-such-bucket-here" in text, text
    assert len(project.staged()) == 1 and not project.recorded()["uni/a"].output_lost
    doctor = project.run("doctor")
    assert doctor.returncode == 1 and "no-such-bucket-here" in doctor.stdout + doctor.stderr


def test_watch_uploads_once_the_bucket_answers_again(s3_project, sim, s3_proxy):
    """The daemon keeps running through a bucket outage and publishes the kept
    downloads when it answers again: no new render, no second GET."""
    project = s3_project
    project.endpoint = s3_proxy.url
    project.write_specs(xingyun=XINGYUN, unisound=UNISOUND)
    s3_proxy.fail(503, method="PUT")
    watch = project.start("watch", "--interval", "1", "--log-format", "json")
    try:
        wait_until(lambda: len(project.staged()) == VIDEOS, timeout=60, what="every download staged")
        assert watch.poll() is None, "watch stopped on a bucket outage"
        assert not any(v.has_output or v.output_lost for v in project.recorded().values())
        s3_proxy.clear()
        wait_until(lambda: all(v.has_output for v in project.recorded().values()), timeout=60,
                   what="watch to publish every kept download")
    finally:
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    assert "Traceback" not in err
    assert creates(sim) == VIDEOS
    one_get_per_unisound_link(sim)
    assert_s3_consistent(project)
