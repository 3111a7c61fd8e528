"""`state migrate` killed half-way (docs/team.md), both directions, end to end.

What a team would notice: the copy is all or nothing. While a killed copy is not
completed, every command on the target refuses it naming `state migrate` (a plan never
proposes paying again for renders the source holds); running the migration again
completes it, equal to the source; and the lock message after the kill says the holder
is dead and when its lease runs out, instead of "wait for it to finish".
"""

from __future__ import annotations

import signal

import pytest

from tests.e2e.support import Project, wait_until

KILLED = -signal.SIGKILL
CRASH = {"RECONCILER_TEST_CRASH_AT": "mid_migrate"}


def _sqlite_view(root, sim, path: str) -> Project:
    """The checkout ``root`` pointed at the SQLite file ``path``."""
    view = Project(root, sim)
    (root / "reconciler.yaml").write_text(f"parallelism: 4\nstate: {path}\n")
    return view


def _migrate_when_free(project: Project, to: str):
    """The rerun: a PostgreSQL lease of the killed copy runs out first (the short test lease)."""
    results = []

    def free():
        results.append(project.run("state", "migrate", "--to", to))
        return "locked by" not in results[-1].stderr

    wait_until(free, timeout=40, what="the killed migration's lease to run out")
    return results[-1]


def _generation(project: Project) -> int:
    store = project.store()
    try:
        return store.generation()
    finally:
        store.close()


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
def test_a_killed_migration_is_refused_by_every_command_and_completed_by_the_rerun(tmp_path, sim, pg_url,
                                                                                   direction):
    root = tmp_path / "p"
    if direction == "sqlite->postgresql":
        source, to = Project(root, sim), pg_url
    else:
        source, to = Project(root, sim, state_url=pg_url), "state/copy.db"
    source.write_specs(xingyun={"xy/a": "一", "xy/b": "二"}, unisound={"uni/q": "你好"})
    assert source.apply().returncode == 0
    recorded, history, generation = source.recorded(), source.attempts(), _generation(source)
    creates = len(sim.calls("create"))

    killed = source.run("state", "migrate", "--to", to, **CRASH)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr

    target = Project(root, sim, state_url=pg_url) if to == pg_url else _sqlite_view(root, sim, to)
    for command in (("plan",), ("status",), ("apply", "--auto-approve")):
        refused = target.run(*command)
        assert refused.returncode == 1, (command, refused.stdout + refused.stderr)
        assert "state migrate" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert len(sim.calls("create")) == creates  # nothing paid for on the half-copied target

    source = Project(root, sim) if to == pg_url else Project(root, sim, state_url=pg_url)  # the source again
    assert source.plan_actions() == dict.fromkeys(["uni/q", "xy/a", "xy/b"], "noop")
    rerun = _migrate_when_free(source, to)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "3 video(s)" in rerun.stdout and "both compared equal" in rerun.stdout

    target = Project(root, sim, state_url=pg_url) if to == pg_url else _sqlite_view(root, sim, to)
    assert target.recorded() == recorded and target.attempts() == history and _generation(target) == generation
    assert target.plan_actions() == dict.fromkeys(["uni/q", "xy/a", "xy/b"], "noop")
    assert not list((root / "state").glob(".*migrating*"))  # no partial copy left behind
    assert len(sim.calls("create")) == creates


def test_after_a_crash_the_lock_message_says_the_holder_is_dead_and_when_its_lease_ends(tmp_path, sim, pg_url):
    project = Project(tmp_path / "p", sim, state_url=pg_url)
    project.write_specs(xingyun={"xy/a": "一"})
    killed = project.apply(RECONCILER_TEST_CRASH_AT="after_intent", RECONCILER_TEST_LEASE_SECONDS="30")
    assert killed.returncode == KILLED
    refused = project.apply()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"locked by pid {killed_pid(project)} on " in refused.stderr, refused.stderr
    assert "no longer running" in refused.stderr and "lease runs out in" in refused.stderr, refused.stderr
    assert "wait for it to finish" not in refused.stderr


def killed_pid(project: Project) -> int:
    """The pid the dead writer's lease names (it is still held: a probe)."""
    holder = project.lock_holder()
    assert holder is not None
    return holder.pid


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
def test_an_empty_state_is_a_target_and_a_killed_copy_into_it_is_completed(tmp_path, sim, pg_url, direction):
    """A target some command opened (its tables made, no row: what an older version's
    killed migration left) holds nothing to merge or overwrite: it is filled."""
    root = tmp_path / "p"
    if direction == "sqlite->postgresql":
        source, to = Project(root, sim), pg_url
        empty = Project(tmp_path / "other", sim, state_url=pg_url)
    else:
        source, to = Project(root, sim, state_url=pg_url), "state/copy.db"
        empty = _sqlite_view(root, sim, to)
    assert empty.run("refresh").returncode == 0  # the target's tables, no row
    source.write_specs(xingyun={"xy/a": "一"})
    if direction == "postgresql->sqlite":
        source = Project(root, sim, state_url=pg_url)  # the view above rewrote reconciler.yaml
    assert source.apply().returncode == 0
    recorded = source.recorded()
    killed = source.run("state", "migrate", "--to", to, **CRASH)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    target = Project(root, sim, state_url=pg_url) if to == pg_url else _sqlite_view(root, sim, to)
    refused = target.run("plan")
    assert refused.returncode == 1 and "state migrate" in refused.stderr, refused.stdout + refused.stderr
    source = Project(root, sim) if to == pg_url else Project(root, sim, state_url=pg_url)
    rerun = _migrate_when_free(source, to)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    target = Project(root, sim, state_url=pg_url) if to == pg_url else _sqlite_view(root, sim, to)
    assert target.recorded() == recorded and target.plan_actions() == {"xy/a": "noop"}
