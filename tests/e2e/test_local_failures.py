"""A local write that fails in the middle of an apply (the state DB's disk full, the
manifest path a folder): the apply stops taking new work, keeps what it recorded and
exits 1 within seconds saying what to fix; no traceback, no hang, the lock released.
Once fixed, the next apply converges without paying twice.

The manifest cases run on both state backends; "disk full" is SQLite's (its state is
a local file); on PostgreSQL the state's analogue is the database becoming unreachable.

"Disk full" is a file-size limit on the apply process (RLIMIT_FSIZE: writes past it
fail with EFBIG, as on a full disk; Python ignores the SIGXFSZ that would kill it).
"""

from __future__ import annotations

import resource
import subprocess
import time

import pytest

from tests.e2e.support import (
    RECONCILER,
    assert_consistent,
    assert_no_duplicate_renders,
    cut_off_database,
    on_both_backends,
    wait_until,
)

VIDEOS = 20


def _specs(project) -> None:
    project.write_specs(xingyun={f"xy/v{i}": f"v{i}" for i in range(VIDEOS // 2)},
                        unisound={f"uni/v{i}": f"u{i}" for i in range(VIDEOS // 2)})


def _apply(project, preexec=None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([RECONCILER, "-C", str(project.root), "apply", "--auto-approve"], capture_output=True,
                            text=True, timeout=30, env=project.env(), stdin=subprocess.DEVNULL, preexec_fn=preexec)
    return result, time.monotonic() - started


def _stopped_cleanly(result, elapsed: float, reason: str | tuple[str, ...]) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert elapsed < 15, f"took {elapsed:.1f}s"
    reasons = (reason,) if isinstance(reason, str) else reason
    assert "Stopped:" in result.stdout and any(r in result.stdout for r in reasons), text
    assert "reconciler refresh" in result.stdout
    assert "Traceback" not in text and "never retrieved" not in text, text


def _converges_without_paying_twice(project, sim) -> None:
    again = project.apply_when_free()  # on PostgreSQL a writer cut off mid-run may leave its lease to expire
    assert again.returncode in (0, 1), again.stdout + again.stderr
    if again.returncode:  # the unknown creates (answer not recorded) were reported once
        assert "Unknown" in again.stdout and "--replace" in again.stdout, again.stdout + again.stderr
        again = project.apply()
        assert again.returncode == 0, again.stdout + again.stderr
    statuses = {a: v.status.value for a, v in project.recorded().items()}
    assert set(statuses.values()) <= {"finished", "unknown"}, statuses
    assert len(statuses) == VIDEOS
    creates = [c for c in sim.calls("create") if c["ok"]]
    assert len(creates) == VIDEOS, creates  # one paid render per video, the unknown ones included
    assert len({c["fingerprint"] for c in creates}) == len(creates), "a render was paid twice"
    assert_consistent(project, all_finished=False)
    assert_no_duplicate_renders(project)


def test_state_disk_full_mid_apply_stops_within_seconds(project, sim):
    _specs(project)
    limit = 150_000  # bytes per file: room for the first writes of the WAL, not for 20 videos'
    result, elapsed = _apply(project, lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    _stopped_cleanly(result, elapsed, "could not write the state database")
    paid = len([c for c in sim.calls("create") if c["ok"]])
    assert 0 < paid < VIDEOS, "it stopped taking new work"
    _converges_without_paying_twice(project, sim)


@on_both_backends
def test_manifest_path_a_folder_stops_the_apply_within_seconds(project, sim):
    _specs(project)
    blocked = project.root / "state/manifest.json"
    blocked.mkdir(parents=True)
    result, elapsed = _apply(project)
    _stopped_cleanly(result, elapsed, "could not write the manifest")
    paid = len([c for c in sim.calls("create") if c["ok"]])
    assert 0 < paid < VIDEOS, "it stopped taking new work"
    recorded = project.recorded()
    assert recorded and all(v.task_id for v in recorded.values() if v.status.value == "rendering")  # kept
    blocked.rmdir()
    _converges_without_paying_twice(project, sim)


@on_both_backends
def test_watch_stops_with_exit_1_when_the_manifest_cannot_be_written(project, sim):
    _specs(project)
    (project.root / "state/manifest.json").mkdir(parents=True)
    watch = project.start("watch", "--log-format", "json")
    try:
        out, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 1, err
    assert "could not write the manifest" in err and "Traceback" not in err
    assert len([c for c in sim.calls("create") if c["ok"]]) < VIDEOS


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_state_database_unreachable_mid_apply_stops_within_seconds(project, sim):
    """PostgreSQL's local failure: the database cut off mid-apply. The apply stops like
    SQLite's on a full disk (no traceback, exit 1, the reason and `reconciler refresh`
    said); once the database is back, the next apply converges without paying twice."""
    _specs(project)
    sim.faults({"render_seconds": 2.0})
    proc = project.start("apply", "--auto-approve")
    try:
        wait_until(lambda: len([c for c in sim.calls("create") if c["ok"]]) >= 2, what="the first creates")
        cut_off_database(project.state_url, allow=False)
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        cut_off_database(project.state_url, allow=True)
    _stopped_cleanly(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), elapsed,
                     # cut off mid-call, or refused at the next connection: the same outage
                     ("lost the connection to the state database", "cannot reach the PostgreSQL state"))
    assert "Check the database server" in out  # and what to do
    assert len([c for c in sim.calls("create") if c["ok"]]) < VIDEOS, "it stopped taking new work"
    _converges_without_paying_twice(project, sim)
