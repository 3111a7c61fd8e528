"""`state import` and `state forget` end to end (docs/team.md, issue 22): a person
settles an `unknown` create by naming its task, with no second payment (the sim's
ledger counts the creates), and lets the state forget a video without a vendor call or
a deleted output; a refusal changes nothing."""

from __future__ import annotations

import signal

from tests.e2e.support import assert_consistent, assert_s3_consistent, on_both_backends, wait_until

KILLED = -signal.SIGKILL


def creates(sim) -> list[dict]:
    return [e for e in sim.calls("create") if e["ok"]]


def run_when_free(project, *args: str):
    """A command after a writer was killed: a PostgreSQL lease runs out first (docs/team.md)."""
    results = []

    def free():
        results.append(project.run(*args))
        return "locked by" not in results[-1].stderr

    wait_until(free, timeout=30, what="the dead writer's lease to expire")
    return results[-1]


def unknown_create(project, sim, address: str = "xy/a", **faults) -> str:
    """An apply whose create reached the vendor but whose answer never came back (the
    connection closed after the task was made): ``address`` is `unknown`; the task id."""
    sim.faults({"queue": {"xingyun.create": ["lost"]}, **faults})
    result = project.apply()
    assert result.returncode != 0 and project.recorded()[address].status.value == "unknown", result.stdout
    [create] = creates(sim)
    return create["task_id"]


def snapshot(project) -> tuple:
    return project.recorded(), project.attempts(), (project.root / "state/manifest.json").read_text()


@on_both_backends
def test_an_unknown_create_left_by_a_kill_is_imported_and_never_paid_again(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    sim.faults({"queue": {"xingyun.create": [{"fault": "slow", "delay_ms": 20000}]}})  # the answer comes too late
    apply = project.start("apply", "--auto-approve")
    wait_until(lambda: creates(sim), what="the create to reach the vendor")
    apply.send_signal(signal.SIGKILL)
    apply.communicate(timeout=10)
    assert apply.returncode == KILLED
    [create] = creates(sim)
    assert project.plan_actions() == {"xy/a": "noop"}  # unknown: never sent again by a plain apply
    wait_until(lambda: sim.tasks()[("xingyun", str(create["task_id"]))]["state"] == "finished",
               what="the render to finish at the vendor")

    imported = run_when_free(project, "state", "import", "xy/a", create["task_id"])
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"task {create['task_id']}" in imported.stdout and "you vouch" in imported.stdout
    assert "Downloaded: outputs/xy/a.mp4" in imported.stdout  # finished at the vendor: downloaded now
    video = project.recorded()["xy/a"]
    assert (video.status.value, video.task_id, video.output_task_id) == ("finished", create["task_id"],
                                                                         create["task_id"])
    assert_consistent(project)
    history = project.attempts()
    assert [a["status"] for a in history] == ["unknown", "finished"]
    assert history[1]["holder"].startswith("state import") and history[1]["task_id"] == create["task_id"]

    again = project.apply()
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout + again.stderr
    assert len(creates(sim)) == 1  # settled without a second payment


@on_both_backends
def test_an_imported_task_still_rendering_is_downloaded_by_the_next_apply(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    task_id = unknown_create(project, sim, render_seconds=10)  # still rendering when imported
    imported = project.run("state", "import", "xy/a", task_id)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "still rendering" in imported.stdout and "Downloaded" not in imported.stdout
    video = project.recorded()["xy/a"]
    assert (video.status.value, video.task_id, video.has_output) == ("rendering", task_id, False)
    assert project.manifest()["videos"]["xy/a"]["task_id"] == task_id
    assert project.plan_actions() == {"xy/a": "noop"}
    done = project.apply()
    assert done.returncode == 0, done.stdout + done.stderr
    assert_consistent(project)
    assert len(creates(sim)) == 1


@on_both_backends
def test_an_import_the_vendor_or_the_state_refuses_changes_nothing(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    task_id = unknown_create(project, sim)
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    finished = project.apply()  # xy/b rendered; xy/a stays unknown (reported, exit 1)
    assert project.recorded()["xy/b"].has_output, finished.stdout + finished.stderr
    assert "reconciler state import ADDR TASK_ID" in project.run("plan").stdout  # the way out, said
    assert "reconciler state import xy/a TASK_ID" in project.run("status").stdout
    before = snapshot(project)

    unknown_task = project.run("state", "import", "xy/a", "987654321")
    assert unknown_task.returncode == 1
    assert "does not know task 987654321" in unknown_task.stderr and "Nothing was changed" in unknown_task.stderr
    assert "Traceback" not in unknown_task.stderr

    not_in_specs = project.run("state", "import", "xy/c", task_id)
    assert not_in_specs.returncode == 1 and "xy/c is not a video of the specs" in not_in_specs.stderr

    managed = project.run("state", "import", "xy/b", task_id)  # xy/b finished with its output
    assert managed.returncode == 1
    assert "xy/b is already managed" in managed.stderr and "state forget xy/b" in managed.stderr
    assert snapshot(project) == before
    assert len(creates(sim)) == 2


@on_both_backends
def test_forget_keeps_the_output_and_the_next_plan_serves_it_from_the_cache(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"})
    assert project.apply().returncode == 0
    output = (project.root / "outputs/xy/a.mp4").read_bytes()
    calls = len(sim.ledger())

    typo = project.run("state", "forget", "xy/a", "xy/nope")
    assert typo.returncode == 1 and "xy/nope" in typo.stderr and "Nothing was forgotten" in typo.stderr
    assert set(project.recorded()) == {"xy/a", "xy/b"}  # all or nothing

    forgot = project.run("state", "forget", "xy/a")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert "Forgot xy/a" in forgot.stdout and "outputs/xy/a.mp4 is kept" in forgot.stdout
    assert set(project.recorded()) == {"xy/b"} and set(project.manifest()["videos"]) == {"xy/b"}
    assert (project.root / "outputs/xy/a.mp4").read_bytes() == output
    assert len(sim.ledger()) == calls  # no vendor call
    assert [a["outcome"] for a in project.attempts() if a["address"] == "xy/a"] == ["forgotten"]

    [change] = [c for c in project.plan_json()["changes"] if c["address"] == "xy/a"]
    assert (change["action"], change["renders"]) == ("create", 0)
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(creates(sim)) == 2  # served from the render cache: no second render
    assert_consistent(project)


@on_both_backends
def test_forget_refuses_a_render_in_flight_unless_abandoned(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    sim.faults({"render_seconds": 3600})
    started = project.apply("--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr
    assert project.recorded()["xy/a"].status.value == "rendering"
    before = snapshot(project)

    refused = project.run("state", "forget", "xy/a")
    assert refused.returncode == 1
    assert "render in flight" in refused.stderr and "--abandon" in refused.stderr
    assert snapshot(project) == before

    abandoned = project.run("state", "forget", "--abandon", "xy/a")
    assert abandoned.returncode == 0, abandoned.stdout + abandoned.stderr
    assert "abandoned" in abandoned.stdout
    assert project.recorded() == {} and project.manifest()["videos"] == {}
    assert sim.calls("cancel") == []  # no vendor call: the render keeps running there


def test_with_outputs_in_a_bucket_an_import_publishes_the_object_and_forget_keeps_it(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "a"})
    task_id = unknown_create(project, sim)
    wait_until(lambda: sim.tasks()[("xingyun", task_id)]["state"] == "finished", what="the render to finish")
    imported = project.run("state", "import", "xy/a", task_id)  # finished: downloaded and published now
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert_s3_consistent(project)
    [key] = project.objects()
    forgot = project.run("state", "forget", "xy/a")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert project.recorded() == {} and list(project.objects()) == [key]  # no object deleted
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(creates(sim)) == 1  # the import settled it; the cache served it after the forget
    assert_s3_consistent(project)
