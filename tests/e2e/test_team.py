"""A team's shared PostgreSQL state (docs/team.md), end to end: the real console script,
the simulator over loopback, and a real PostgreSQL server the suite starts itself.

Two "machines" are two project directories (two checkouts) sharing one database. What
a team would notice: every command works as on SQLite; one writer at a time, the second
failing fast naming the first; a holder killed with -9 loses the role within the lease
(a short one here, ``support.TEST_LEASE_SECONDS``) with nobody acting; a standby
watch takes over; a machine lacking another's outputs pays for nothing; two projects in
two schemas never see each other.
"""

from __future__ import annotations

import signal
import time
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import (
    TEST_LEASE_SECONDS,
    Project,
    assert_no_duplicate_renders,
    cut_off_database,
    database_url,
    read_until,
    wait_until,
)

KILLED = -signal.SIGKILL


class TeamProject(Project):
    """A checkout whose state is the shared PostgreSQL database ``url`` (in ``schema``)."""

    def __init__(self, root, sim, url: str, schema: str | None = None):
        super().__init__(root, sim, state_url=url)
        self.url = url
        if schema:
            (root / "reconciler.yaml").write_text(f"parallelism: 4\nstate_schema: {schema}\n")


@pytest.fixture
def team_url(request) -> str:
    """The shared database, reached directly or (``through_pgbouncer_too``) through
    PgBouncer in transaction mode, as many teams reach theirs."""
    return database_url(request, getattr(request, "param", "postgresql"))


through_pgbouncer_too = pytest.mark.parametrize("team_url", ["postgresql", "pgbouncer"], indirect=True)


@pytest.fixture
def machines(tmp_path, sim, team_url):
    return (TeamProject(tmp_path / "a", sim, team_url), TeamProject(tmp_path / "b", sim, team_url))


def _bouncer_pool_mode(url: str) -> str | None:
    """The pool mode of ``url``'s database in the session's PgBouncer (its admin console
    speaks only the simple query protocol: a client-side cursor)."""
    import psycopg

    from tests import pgbouncer

    database = urlsplit(url).path.lstrip("/")
    with psycopg.connect(pgbouncer.admin_url(), autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        cur = conn.execute("SHOW POOLS")
        names = [d.name for d in cur.description]
        pools = [dict(zip(names, row)) for row in cur.fetchall()]
    return next((p["pool_mode"] for p in pools if p["database"] == database), None)


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


@through_pgbouncer_too
def test_apply_replace_and_delete_on_a_postgresql_state(machines, sim, team_url, request):
    a, _ = machines
    a.write_specs(xingyun={"xy/a": "一", "xy/b": "二"}, unisound={"uni/q": "你好"})
    first = a.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    assert {k: v.status.value for k, v in a.recorded().items()} == dict.fromkeys(["uni/q", "xy/a", "xy/b"], "finished")
    assert set(a.manifest()["videos"]) == {"uni/q", "xy/a", "xy/b"} and (a.root / "outputs/uni/q.mp4").exists()
    assert not (a.root / "state/reconciler.db").exists()  # the state is the database's, not a file here
    a.write_specs(xingyun={"xy/a": "一 v2"}, unisound={"uni/q": "你好"})
    assert a.plan_actions() == {"uni/q": "noop", "xy/a": "replace", "xy/b": "delete"}
    second = a.apply()
    assert second.returncode == 0, second.stdout + second.stderr
    assert set(a.recorded()) == {"uni/q", "xy/a"} and not (a.root / "outputs/xy/b.mp4").exists()
    assert len(sim.calls("create")) == 4
    again = a.apply()
    assert again.returncode == 0 and "No changes" in again.stdout and len(sim.calls("create")) == 4
    assert_no_duplicate_renders(a)
    if request.node.callspec.params["team_url"] == "pgbouncer":  # through the bouncer's pool, in transaction mode
        assert _bouncer_pool_mode(team_url) == "transaction"


def test_a_machine_lacking_anothers_outputs_pays_nothing(machines, sim):
    a, b = machines
    for m in machines:
        m.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    assert a.apply().returncode == 0
    creates = len(sim.calls("create"))
    assert b.plan_actions() == {"uni/q": "noop", "xy/a": "noop"}  # B has no file of either
    applied = b.apply()
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(sim.calls("create")) == creates  # nothing paid again
    assert (b.root / "outputs/xy/a.mp4").exists()  # Xingyun's link works: fetched again on B
    assert not (b.root / "outputs/uni/q.mp4").exists()  # Unisound's one-shot link was used by A
    refreshed = b.run("refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "kept on another machine" in refreshed.stdout + refreshed.stderr
    uni = b.recorded()["uni/q"]
    assert uni.has_output and not uni.output_lost and str(a.root) in uni.output_place
    assert b.plan_actions() == {"uni/q": "noop", "xy/a": "noop"} and len(sim.calls("create")) == creates
    assert (a.root / "outputs/uni/q.mp4").exists() and a.plan_actions() == {"uni/q": "noop", "xy/a": "noop"}


@through_pgbouncer_too
def test_one_writer_across_machines_and_a_killed_holder_loses_the_role(machines, sim):
    a, b = machines
    for m in machines:
        m.write_specs(xingyun={"xy/a": "一"})
    holder = a.start("watch", "--interval", "60")
    try:
        read_until(holder.stderr, "watching")
        second = b.apply()
        assert second.returncode == 1
        assert f"locked by pid {holder.pid} on " in second.stderr and "(watch, since" in second.stderr
        assert "Traceback" not in second.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        started = time.monotonic()
        taken = b.apply_when_free()
        assert time.monotonic() - started < 30 and "Traceback" not in taken.stderr, taken.stdout + taken.stderr
        # A kill that landed while the holder's create was in flight leaves it unknown (exit 1, the
        # command to render it on purpose shown), never sent again; otherwise the apply converges.
        assert taken.returncode == 0 or "reconciler apply --replace xy/a" in taken.stdout, taken.stdout + taken.stderr
        assert len(sim.calls("create")) <= 1  # never paid twice
        assert f"took over the lock left by pid {holder.pid}" in taken.stderr
    finally:
        _stop(holder)
    assert_no_duplicate_renders(b)


@through_pgbouncer_too
def test_a_standby_watch_takes_over_when_the_leader_is_killed(machines, sim):
    a, b = machines
    a.write_specs(xingyun={"xy/a": "一"})
    b.write_specs(xingyun={"xy/a": "一", "xy/b": "二"})  # B's checkout is newer: the standby acts on its own
    leader = a.start("watch", "--standby", "--interval", "60")
    standby = None
    try:
        read_until(leader.stderr, "watching")
        wait_until(lambda: "xy/a" in a.recorded() and a.recorded()["xy/a"].has_output, what="A to render xy/a")
        standby = b.start("watch", "--standby", "--interval", "60")
        read_until(standby.stderr, "standby: pid")
        assert len(sim.calls("create")) == 1 and not b.recorded().get("xy/b")  # a standby changes nothing
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        read_until(standby.stderr, "took the writer role", timeout=30)
        wait_until(lambda: (r := b.recorded()).get("xy/b") is not None and r["xy/b"].has_output,
                   what="the new leader to render B's new video")
        assert (b.root / "outputs/xy/a.mp4").exists()  # A's output fetched again on B, not rendered
        assert len(sim.calls("create")) == 2
        standby.send_signal(signal.SIGTERM)
        standby.communicate(timeout=30)
        assert standby.returncode == 0
    finally:
        _stop(leader)
        if standby is not None:
            _stop(standby)


@pytest.mark.parametrize("outage", ["short", "longer than the lease"])
def test_a_leading_standby_watch_outlives_a_database_outage(machines, sim, outage):
    """The leader's database goes away while it has work: it writes nothing and sends
    nothing meanwhile and does not exit. A short outage: it retries and carries on. One
    longer than the lease: its lease lapsed, so it goes back to standby and takes the role
    again (recovery first). Either way nothing is paid twice and no traceback is shown."""
    a, _ = machines
    a.write_specs(xingyun={"xy/a": "一"})
    watch = a.start("watch", "--standby", "--interval", "60")
    try:
        read_until(watch.stderr, "watching")
        wait_until(lambda: "xy/a" in a.recorded() and a.recorded()["xy/a"].has_output, what="xy/a rendered")
        cut_off_database(a.state_url, allow=False)
        try:
            a.write_specs(xingyun={"xy/a": "一", "xy/b": "二"})  # work that needs the state
            said = read_until(watch.stderr, "lost the connection to the state database", timeout=30)
            if outage != "short":
                time.sleep(float(TEST_LEASE_SECONDS) + 1)  # the outage itself: the lease lapses meanwhile
            assert watch.poll() is None, "a standby does not exit when the database goes away"
            assert len(sim.calls("create")) == 1, "nothing is sent while the state cannot record it"
        finally:
            cut_off_database(a.state_url, allow=True)
        if outage != "short":
            said += read_until(watch.stderr, "standby again", timeout=30)
            said += read_until(watch.stderr, "took the writer role", timeout=30)
        wait_until(lambda: (r := a.recorded()).get("xy/b") is not None and r["xy/b"].has_output,
                   what="xy/b rendered once the database is back")
        assert len(sim.calls("create")) == 2
        watch.send_signal(signal.SIGTERM)
        _, rest = watch.communicate(timeout=30)
        assert watch.returncode == 0, said + rest
        assert "Traceback" not in said + rest and "StateUnreachableError(" not in said + rest
    finally:
        _stop(watch)


def test_a_crash_after_the_intent_is_recovered_by_the_next_writer_on_another_machine(machines, sim):
    a, b = machines
    for m in machines:
        m.write_specs(xingyun={"xy/a": "一", "xy/b": "二"})
    # one change at a time: the kill comes after the first intent, before any other is written
    crashed = a.start("apply", "--auto-approve", "--parallelism", "1", RECONCILER_TEST_CRASH_AT="after_intent:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode == KILLED
    assert [v.status.value for v in a.recorded().values()] == ["pending"]  # the intent, in the shared state
    creates = len(sim.calls("create"))
    again = b.apply_when_free()
    assert again.returncode == 1, again.stdout + again.stderr  # an unknown is reported, never re-sent
    assert f"took over the lock left by pid {crashed.pid}" in again.stdout + again.stderr
    assert "recovered: an earlier run stopped while its create was in flight" in again.stderr
    assert {k: v.status.value for k, v in b.recorded().items()} == {"xy/a": "unknown", "xy/b": "finished"}
    assert len(sim.calls("create")) == creates + 1  # only xy/b, whose intent was never written
    assert_no_duplicate_renders(b)


def test_two_projects_in_two_schemas_do_not_see_each_other(tmp_path, sim, pg_url):
    launch = TeamProject(tmp_path / "launch", sim, pg_url, schema="launch_2026")
    faq = TeamProject(tmp_path / "faq", sim, pg_url, schema="faq")
    launch.write_specs(xingyun={"launch/intro": "一"})
    faq.write_specs(xingyun={"faq/q1": "二"})
    holder = launch.start("watch", "--interval", "60")
    try:
        read_until(holder.stderr, "watching")
        applied = faq.apply()  # another schema: its own lock, free
        assert applied.returncode == 0, applied.stdout + applied.stderr
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.communicate(timeout=30)
    assert set(faq.recorded()) == {"faq/q1"} and set(launch.recorded()) == {"launch/intro"}
    assert set(faq.manifest()["videos"]) == {"faq/q1"}


def test_state_migrate_copies_a_whole_state_both_ways_and_refuses_a_full_target(tmp_path, sim, pg_url):
    solo = Project(tmp_path / "solo", sim)  # today's SQLite state of one machine
    solo.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    assert solo.apply().returncode == 0
    db = solo.root / "state/reconciler.db"
    before = db.read_bytes()
    history = solo.attempts()
    moved = solo.run("state", "migrate", "--to", pg_url)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "both compared equal" in moved.stdout and "2 video(s)" in moved.stdout
    assert db.read_bytes() == before  # the source is left as it was
    team = TeamProject(solo.root, sim, pg_url)  # the same checkout, now pointed at the shared state
    assert team.recorded() == solo.recorded() and team.attempts() == history
    creates = len(sim.calls("create"))
    assert team.plan_actions() == {"uni/q": "noop", "xy/a": "noop"}
    again = solo.run("state", "migrate", "--to", pg_url)
    assert again.returncode == 1 and "already holds a state" in again.stderr and "Traceback" not in again.stderr
    back = team.run("state", "migrate", "--to", "state/back.db")  # and back, from PostgreSQL to a file
    assert back.returncode == 0, back.stdout + back.stderr
    assert _file_state(solo, "state/back.db") == solo.recorded()
    assert len(sim.calls("create")) == creates


def _file_state(project: Project, path: str):
    """The videos recorded in another SQLite file of ``project``'s checkout."""
    from reconciler.state.sqlite import StateStore

    store = StateStore.open_readonly(project.root / path)
    try:
        return store.recorded()
    finally:
        store.close()


def test_a_standby_watch_on_sqlite_waits_for_the_file_lock(project, sim):
    project.write_specs(xingyun={"xy/a": "一"})
    leader = project.start("watch", "--interval", "60")
    standby = None
    try:
        read_until(leader.stderr, "watching")
        refused = project.start("watch")  # without --standby: fails at once, as before
        assert refused.wait(timeout=30) == 1 and f"locked by pid {leader.pid}" in refused.stderr.read()
        refused.stderr.close()
        refused.stdout.close()
        standby = project.start("watch", "--standby", "--interval", "60")
        read_until(standby.stderr, f"standby: pid {leader.pid}")
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=30) == 0
        assert "took the writer role" in read_until(standby.stderr, "watching", timeout=30)
        standby.send_signal(signal.SIGTERM)
        standby.communicate(timeout=30)
        assert standby.returncode == 0
    finally:
        _stop(leader)
        if standby is not None:
            _stop(standby)


def test_a_watch_whose_lease_was_taken_stops_and_says_so(machines, sim):
    import psycopg

    a, _ = machines
    a.write_specs(xingyun={"xy/a": "一"})
    leader = a.start("watch", "--interval", "60")
    try:
        read_until(leader.stderr, "watching")
        with psycopg.connect(a.url, autocommit=True) as conn:  # a partition: the lease ran out, another took it
            conn.execute("UPDATE reconciler.lease SET token = 'other', pid = 1, host = 'elsewhere', "
                         "expires_at = now() + interval '1 minute'")
        _, err = leader.communicate(timeout=30)
        assert leader.returncode == 1
        # said by whichever noticed first: the lease renewal, or a write refused under the lost lease
        assert ("writer lease was lost" in err or "writer lease of" in err and "was lost" in err), err
        assert "Traceback" not in err
    finally:
        _stop(leader)
