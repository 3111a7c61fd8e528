"""kill -9 of `reconciler apply` at many points, then apply again: no render whose
create answer had arrived is paid twice (the sim's ledger proves it), and state,
outputs and manifest agree.

The points inside the process are hit with the test-only RECONCILER_TEST_CRASH_AT
(see reconciler.apply.events.crash_point); the others by SIGKILL from outside while the
state DB / the outputs folder show the moment has come.

The tests run on both state backends (but the check of the recovery check itself): on
PostgreSQL the killed writer's lease must run out before the next apply can take over
(``Project.apply_when_free``).
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, on_both_backends, read_until, wait_until

KILLED = -signal.SIGKILL


def _recover_and_check(project, sim, crashed_pid: int | None = None) -> None:
    """Apply again until done, as a script would. A create the dead process had in
    flight is `unknown` (docs/specs.md): shown, never sent again without --replace."""
    fetched_once = {e["task_id"] for e in sim.calls("download", "unisound")}  # by the killed process
    again = project.apply_when_free()
    if crashed_pid is not None:
        assert f"took over the lock left by pid {crashed_pid}" in again.stderr
    unknown = {a for a, v in project.recorded().items() if v.status.value == "unknown"}
    if unknown:
        assert "reconciler apply --replace" in again.stderr + again.stdout, again.stdout + again.stderr
    rerendered = frozenset()
    lost = {a: v for a, v in project.recorded().items() if v.output_lost}
    if again.returncode != 0 and lost:
        # The one loss a kill can cause: a Unisound URL is served once, and the killed
        # process had fetched it. It must be reported lost, and the next apply renders it again.
        assert all(v.provider == "unisound" and v.task_id in fetched_once for v in lost.values()), lost
        assert project.plan_actions() == {a: "replace" if a in lost else "noop" for a in project.plan_actions()}
        lost_tasks = {v.task_id for v in lost.values()}
        rerendered = frozenset(e["fingerprint"] for e in sim.calls("create") if e["task_id"] in lost_tasks)
        again = project.apply()
    assert again.returncode == 0 or (unknown and "Unknown:" in again.stdout), again.stdout + again.stderr
    if again.returncode != 0:
        again = project.apply()  # the unknowns were reported once; this run has nothing to do
        assert again.returncode == 0, again.stdout + again.stderr
    recorded = project.recorded()
    assert {a for a, v in recorded.items() if v.status.value != "finished"} == unknown
    assert_consistent(project, all_finished=not unknown)
    assert_no_duplicate_renders(project, rerendered)
    creates = len(sim.calls("create"))
    third = project.apply()
    assert third.returncode == 0 and "No changes" in third.stdout, third.stdout + third.stderr
    assert len(sim.calls("create")) == creates


@pytest.mark.parametrize("point", ["after_intent:3", "after_submit:2", "after_poll:2", "before_manifest:2"])
@on_both_backends
def test_crash_inside_apply(project, sim, point):
    project.standard_specs()
    crashed = project.start("apply", "--auto-approve", RECONCILER_TEST_CRASH_AT=point)
    crashed.communicate(timeout=60)
    assert crashed.returncode == KILLED
    _recover_and_check(project, sim, crashed.pid)


@on_both_backends
def test_crash_between_download_and_its_record(project, sim):
    """The output is renamed into place but not yet recorded: Xingyun serves it again."""
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b", "xy/c": "c"}, deck=True)
    crashed = project.start("apply", "--auto-approve", RECONCILER_TEST_CRASH_AT="after_download:2")
    crashed.communicate(timeout=60)
    assert crashed.returncode == KILLED
    _recover_and_check(project, sim, crashed.pid)


@on_both_backends
def test_kill_while_polling(project, sim):
    project.standard_specs()
    sim.faults({"render_seconds": 4.0})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len(sim.calls("status")) >= 6, what="polls of every render")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    creates = len(sim.calls("create"))
    assert creates == 6
    _recover_and_check(project, sim)
    assert len(sim.calls("create")) == creates  # nothing rendered twice


@on_both_backends
def test_kill_during_a_download(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    sim.faults({"queue": {"xingyun.download": [{"fault": "slow", "delay_ms": 20000}]}})
    proc = project.start("apply", "--auto-approve")
    outputs = project.root / "outputs"
    wait_until(lambda: sim.calls("download"), what="a download to start")
    part = wait_until(lambda: [p for p in outputs.rglob("*.part")] if outputs.exists() else [], what="a .part file")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert part[0].exists()
    _recover_and_check(project, sim)
    assert len(sim.calls("create")) == 2
    assert not list(outputs.rglob("*.part"))  # the dead download's temp file was swept


@on_both_backends
def test_kill_during_a_one_shot_download_loses_that_output_visibly(project, sim):
    """Unisound serves a video URL once: a crash mid-download loses it, and that is said."""
    project.write_specs(unisound={"uni/a": "a"})
    sim.faults({"queue": {"unisound.download": [{"fault": "slow", "delay_ms": 20000}]}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: sim.calls("download"), what="the download to start")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    again = project.apply_when_free()
    assert again.returncode == 1
    assert "output lost" in again.stderr and "uni/a" in again.stdout
    assert project.recorded()["uni/a"].output_lost
    assert project.plan_actions() == {"uni/a": "replace"}
    assert project.apply().returncode == 0  # the visible re-render
    assert_consistent(project)


def test_recovery_check_accepts_only_a_visible_one_shot_loss(project, sim):
    """The check every crash test ends with takes the one loss a kill may cause (a
    Unisound URL already fetched by the dead process) only when it is reported lost,
    proposed as a replace, and rendered again without any other duplicate."""
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    sim.faults({"queue": {"unisound.download": [{"fault": "slow", "delay_ms": 20000}]}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: sim.calls("download", "unisound"), what="the one-shot download to start")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    _recover_and_check(project, sim)
    assert len([c for c in sim.calls("create", "unisound") if c["ok"]]) == 2  # the visible re-render


@on_both_backends
def test_sigint_stops_cleanly_and_says_what_next(project, sim):
    project.standard_specs()
    sim.faults({"render_seconds": 30.0})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len([c for c in sim.calls("create") if c["ok"]]) == 6, what="all creates")
    wait_until(lambda: all(v.status.value == "rendering" for v in project.recorded().values()), what="rendering")
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "reconciler refresh" in out and "reconciler apply" in out
    assert "Traceback" not in err
    assert_consistent(project, all_finished=False)
    assert all(v.status.value == "rendering" for v in project.recorded().values())
    assert project.lock_holder() is None  # released, not left to expire
    refreshed = project.run("refresh")
    assert refreshed.returncode == 0 and "took over" not in refreshed.stderr, refreshed.stdout + refreshed.stderr


@on_both_backends
def test_sigint_during_creates_lets_them_finish_and_starts_no_more(project, sim):
    project.write_specs(xingyun={f"xy/v{i}": f"v{i}" for i in range(4)},
                        unisound={f"uni/v{i}": f"v{i}" for i in range(4)})
    (project.root / "reconciler.yaml").write_text("parallelism: 2\n")
    sim.faults({"queue": {"create": [{"fault": "slow", "delay_ms": 1500}] * 2}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len(sim.calls("create")) == 2, what="two creates in flight")
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert len(sim.calls("create")) == 2  # no new create after the interrupt
    recorded = project.recorded()
    assert sorted(v.status.value for v in recorded.values()) == ["rendering", "rendering"]  # answers recorded
    assert "6 skipped" not in out and "Interrupted" in out
    assert_consistent(project, all_finished=False)
    _recover_and_check(project, sim)
    assert len(sim.calls("create")) == 8


@on_both_backends
def test_second_sigint_abandons_creates_in_flight_as_unknown(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    sim.faults({"queue": {"create": [{"fault": "slow", "delay_ms": 20000}] * 2}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len(sim.calls("create")) == 2, what="two creates in flight")
    os.kill(proc.pid, signal.SIGINT)
    seen = read_until(proc.stderr, "Interrupted:")  # two quick signals could merge into one
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    err = seen + err
    assert proc.returncode == 130, out + err
    assert sorted(v.status.value for v in project.recorded().values()) == ["unknown", "unknown"], out + err
    assert "may have been paid for" in out
    assert project.plan_actions() == {"xy/a": "noop", "xy/b": "noop"}  # never sent again without --replace
