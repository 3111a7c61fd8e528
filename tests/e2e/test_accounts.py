"""Accounts in a shared state (docs/team.md), end to end: the real console script, two
checkouts on one state, each calling its own vendor account.

The incident this guards against: a teammate whose checkout calls another simulator
ran ``refresh`` on the shared state, asked its own vendor about the first teammate's
tasks, got "task not found", and marked finished videos failed. Here the second
checkout's vendor is a second ``reconciler sim`` process (another task store: the
account differs by where it lives), or each checkout's built-in ``endpoint: sim``.
What a team would notice: the second checkout never polls, cancels, downloads, fails
or renders again the first one's renders; it names them as owned by another account
and exits 1 where it had work to do on them; the first checkout still finishes them.
"""

from __future__ import annotations

import signal

import pytest

from reconciler.sim.store import read_ledger
from tests.e2e.support import Project, Sim, grep_secrets, on_both_backends, read_until


@pytest.fixture
def other_sim(tmp_path):
    """The vendor of the second checkout: another simulator, its own tasks."""
    server = Sim(tmp_path / "other-sim")
    yield server
    server.stop()


def _second_checkout(project: Project, root, sim) -> Project:
    """Another checkout of ``project``'s state calling ``sim``: on PostgreSQL the same
    database, on SQLite the first checkout's state file."""
    other = Project(root, sim, state_url=project.state_url)
    if project.state_url is None:
        (root / "reconciler.yaml").write_text(f"parallelism: 4\nstate: {project.root / 'state/reconciler.db'}\n")
    return other


def _statuses(project: Project) -> dict[str, str]:
    return {a: v.status.value for a, v in project.recorded().items()}


@on_both_backends
def test_another_accounts_renders_are_left_to_it_and_it_still_finishes_them(project, sim, other_sim, tmp_path):
    a = project
    b = _second_checkout(a, tmp_path / "b", other_sim)
    for checkout in (a, b):
        checkout.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    started = a.apply("--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr
    assert _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    refreshed = b.run("refresh")
    said = refreshed.stdout + refreshed.stderr
    assert refreshed.returncode == 1, said
    assert "owned by another account" in said and "xy/a" in said and "uni/q" in said
    assert "xingyun app id e2e-xy-app" in said and "unisound appKey e2e-uni-key" in said
    assert not grep_secrets(said)
    assert other_sim.calls("status") == [] and other_sim.calls("download") == []  # never asked its own vendor
    assert _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}  # nothing marked failed

    applied = b.apply()  # same specs: its only work would be to follow them
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert "owned by another account" in applied.stdout + applied.stderr
    assert other_sim.ledger() == [] and _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    b.write_specs(xingyun={"xy/a": "一 v2"})  # a replace of xy/a and a delete of uni/q, both not B's to do
    plan = {c["address"]: c for c in b.plan_json()["changes"]}
    assert {a: c["action"] for a, c in plan.items()} == {"uni/q": "noop", "xy/a": "noop"}
    assert all("owned by another account" in c["reason"] for c in plan.values())
    shown = b.run("plan")
    assert shown.returncode == 0 and "Owned by another account (2 videos)" in shown.stdout
    changed = b.apply()
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert other_sim.ledger() == [] and sim.calls("cancel") == []
    assert _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    finished = a.apply()  # the owner follows its renders to the end
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert _statuses(a) == {"uni/q": "finished", "xy/a": "finished"}
    assert (a.root / "outputs/xy/a.mp4").exists() and (a.root / "outputs/uni/q.mp4").exists()
    assert len(sim.calls("create")) == 2

    quiet = b.run("refresh")  # finished and published by A: nothing left to do on them here
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "kept on another machine" in quiet.stdout + quiet.stderr
    assert other_sim.ledger() == [] and _statuses(a) == {"uni/q": "finished", "xy/a": "finished"}
    held = b.apply()  # B's specs still ask for a replace and a delete it may not carry out
    assert held.returncode == 1 and "owned by another account" in held.stdout + held.stderr
    assert other_sim.ledger() == [] and sim.calls("cancel") == [] and len(sim.calls("create")) == 2
    assert _statuses(a) == {"uni/q": "finished", "xy/a": "finished"}


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_each_checkouts_own_simulator_is_its_own_account(project, sim, tmp_path):
    """``endpoint: sim``: both checkouts call ``sim-app``, but each simulator keeps its own
    tasks under its checkout's ``state/``: another account for the other checkout."""
    a = project
    b = Project(tmp_path / "b", sim, state_url=a.state_url)
    builtin = {"XINGYUN_ENDPOINT": "sim", "UNISOUND_ENDPOINT": "sim", "XINGYUN_APP_ID": "",
               "XINGYUN_APP_SECRET": "", "UNISOUND_APPKEY": "", "UNISOUND_SECRET": "",
               "RECONCILER_SIM_RENDER_SECONDS": "0.5"}
    for checkout in (a, b):
        checkout.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    started = a.apply("--no-wait", **builtin)
    assert started.returncode == 0, started.stdout + started.stderr

    refreshed = b.run("refresh", **builtin)
    said = refreshed.stdout + refreshed.stderr
    assert refreshed.returncode == 1, said
    assert "owned by another account" in said and "xingyun app id sim-app at sim:" in said
    assert read_ledger(b.root / "state") == []  # B's simulator was never asked
    assert _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    finished = a.apply(**builtin)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert _statuses(a) == {"uni/q": "finished", "xy/a": "finished"}
    assert read_ledger(b.root / "state") == []


@on_both_backends
def test_a_watch_of_another_account_leaves_the_renders_to_their_owner(project, sim, other_sim, tmp_path):
    a = project
    b = _second_checkout(a, tmp_path / "b", other_sim)
    a.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    b.write_specs(xingyun={"xy/a": "一 v2"}, unisound={"uni/q": "你好"})  # B's specs would replace xy/a
    started = a.apply("--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr

    watch = b.start("watch", "--interval", "60")
    try:
        # reported while it reads the state, before it would have polled anything
        said = read_until(watch.stderr, "owned by another account")
    finally:
        watch.send_signal(signal.SIGTERM)
        said += watch.communicate(timeout=30)[1]
    assert watch.returncode == 0
    assert all(f"other_account {address}: owned by another account" in said for address in ("xy/a", "uni/q")), said
    assert other_sim.ledger() == [] and sim.calls("cancel") == []  # never polled, cancelled or rendered again
    assert _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    finished = a.apply()
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert _statuses(a) == {"uni/q": "finished", "xy/a": "finished"} and len(sim.calls("create")) == 2


@on_both_backends
def test_a_teammate_with_other_credentials_never_calls_about_the_first_ones_renders(project, sim, tmp_path):
    a = project
    b = _second_checkout(a, tmp_path / "b", sim)  # the same vendor endpoint, another app id / appKey
    teammate = {"XINGYUN_APP_ID": "teammate-xy-app", "UNISOUND_APPKEY": "teammate-uni-key"}
    for checkout in (a, b):
        checkout.write_specs(xingyun={"xy/a": "一"}, unisound={"uni/q": "你好"})
    started = a.apply("--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr
    before = len(sim.ledger())

    refreshed = b.run("refresh", **teammate)
    said = refreshed.stdout + refreshed.stderr
    assert refreshed.returncode == 1, said
    assert "owned by another account (xingyun app id e2e-xy-app at 127.0.0.1:" in said
    assert "owned by another account (unisound appKey e2e-uni-key at 127.0.0.1:" in said
    assert "this checkout runs as xingyun app id teammate-xy-app" in said and not grep_secrets(said)
    assert len(sim.ledger()) == before and _statuses(a) == {"uni/q": "rendering", "xy/a": "rendering"}

    finished = a.apply()
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert _statuses(a) == {"uni/q": "finished", "xy/a": "finished"}
