"""Renders that hang, outputs about to expire, and a refresh that could not ask.

A render unfinished past ``providers.<vendor>.stall_after`` is reported stalled (status,
refresh, apply, watch log), polled rarely, not waited for, and never rendered again
unless a person asks. A finished Unisound output not downloaded a day after it
finished is warned about. `refresh` exits 1 when a vendor refused it for unfinished
renders. The stall and the expiry warning are read from the state: both run on both
state backends.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

from reconciler.model import Status
from tests.e2e.support import on_both_backends, read_until, wait_until


def _stall_config(project, seconds: float = 1.0) -> None:
    (project.root / "reconciler.yaml").write_text(
        f"parallelism: 4\nproviders:\n  xingyun: {{stall_after: {seconds}}}\n  unisound: {{stall_after: {seconds}}}\n")


@on_both_backends
def test_a_stalled_render_is_reported_not_waited_for_and_never_rendered_again(project, sim):
    _stall_config(project)
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    sim.faults({"render_seconds": 3600})
    started = time.monotonic()
    result = project.apply()
    assert time.monotonic() - started < 20
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Stalled:" in result.stdout and "reconciler apply --replace xy/a" in result.stdout, result.stdout
    assert {v.status for v in project.recorded().values()} == {Status.RENDERING}

    status = project.run("status")
    assert status.returncode == 0 and status.stdout.count("rendering (stalled)") == 2, status.stdout
    assert "Stalled: xy/a" in status.stdout
    doc = json.loads(project.run("status", "--json").stdout)["videos"]
    assert doc["xy/a"]["status"] == "rendering" and doc["xy/a"]["stalled"] is True
    assert "stalled" not in project.manifest()["videos"]["xy/a"]  # the file does not depend on the clock

    refreshed = project.run("refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "Stalled" in refreshed.stdout and "xy/a" in refreshed.stdout

    assert project.plan_actions() == {"xy/a": "noop", "uni/a": "noop"}
    again = project.apply()
    assert "Stalled:" in again.stdout, again.stdout
    assert len(sim.calls("create")) == 2  # never rendered again without a person asking

    watch = project.start("watch", "--log-format", "json")
    try:
        seen = read_until(watch.stderr, '"event": "stalled"', timeout=30)
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.communicate(timeout=30)
    stalled = [json.loads(line) for line in seen.splitlines() if '"event": "stalled"' in line]
    assert stalled[0]["level"] == "warning" and "--replace" in stalled[0]["message"]
    assert len(sim.calls("create")) == 2


def test_refresh_exits_1_when_a_vendor_refuses_it_for_unfinished_renders(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    sim.faults({"render_seconds": 60})
    assert project.apply("--no-wait").returncode == 0
    refused = project.run("refresh", XINGYUN_APP_SECRET="not-the-secret")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Not refreshed" in refused.stdout and "xy/a" in refused.stdout
    assert "Traceback" not in refused.stderr
    assert project.recorded()["xy/a"].status is Status.RENDERING
    fine = project.run("refresh")
    assert fine.returncode == 0, fine.stdout + fine.stderr


@on_both_backends
def test_a_finished_unisound_output_not_downloaded_for_a_day_is_warned_about(project, sim):
    project.write_specs(unisound={"uni/a": "a"})
    sim.faults({"render_seconds": 0.2})
    assert project.apply("--no-wait").returncode == 0
    video = project.recorded()["uni/a"]
    wait_until(lambda: sim.tasks()[("unisound", video.task_id)]["state"] == "done", what="the render to finish")
    # it finished 30 hours ago and nobody downloaded it (the machine was off)
    long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)).isoformat(timespec="seconds")
    store = project.store(readonly=False)
    try:
        store.record_task("uni/a", video.task_id, Status.FINISHED, finished_at=long_ago)
    finally:
        store.close()

    status = project.run("status")
    assert "Warning: uni/a" in status.stdout and "expires in about 42 h" in status.stdout, status.stdout
    doc = json.loads(project.run("status", "--json").stdout)["videos"]
    assert "reconciler refresh" in doc["uni/a"]["warning"]
    refreshed = project.run("refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "Warning:" in refreshed.stdout and "uni/a" in refreshed.stdout
    assert project.recorded()["uni/a"].has_output  # and refresh downloaded it
    assert "Warning" not in project.run("status").stdout
