"""`reconciler apply` under injected vendor faults (the sim's fault tables), on both state backends."""

from __future__ import annotations

import signal

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, on_both_backends, wait_until

# 25% of calls fail with a 5xx, 10% answer slowly, 5% are dropped without an answer.
# Unisound's one-shot downloads are left alone: a failed one-shot download is a lost
# output and a visible re-render by design (see test_e2e_crash), not a retry.
NOISY = {"http_503": 0.15, "http_500": 0.10, "slow": {"p": 0.10, "delay_ms": 400}, "drop": 0.05}
pytestmark = on_both_backends
FAULTS = {"seed": 11, "probability": {"xingyun.*": NOISY, "unisound.create": NOISY, "unisound.status": NOISY}}


def test_apply_converges_under_faults_without_duplicates(project, sim):
    project.write_specs(xingyun={f"xy/v{i}": f"第{i}段" for i in range(8)},
                        unisound={f"uni/v{i}": f"这是第<value>{i}</value>会议室" for i in range(8)}, deck=True)
    sim.faults(FAULTS)
    results = []
    for _ in range(5):
        results.append(project.apply())
        if results[-1].returncode == 0:
            break
    assert results[-1].returncode == 0, results[-1].stdout + results[-1].stderr
    faulted = [e for e in sim.ledger() if e["fault"]]
    assert len(faulted) >= 8  # the faults really happened
    # A create whose answer was dropped stays `unknown` (never re-sent); every other video converged.
    statuses = {a: v.status.value for a, v in project.recorded().items()}
    assert set(statuses.values()) <= {"finished", "unknown"}, statuses
    unknown = sorted(a for a, s in statuses.items() if s == "unknown")
    if unknown:
        assert "Unknown" in results[0].stdout and "--replace" in results[0].stdout
    assert_consistent(project, all_finished=False)
    assert_no_duplicate_renders(project)
    assert sorted(a["address"] for a in project.attempts() if a["status"] == "unknown") == unknown  # one attempt each


def test_lost_create_answers_are_reported_unknown_and_never_sent_again(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"}, unisound={"uni/a": "a"})
    sim.faults({"queue": {"xingyun.create": ["lost"], "unisound.create": ["lost"]}})
    result = project.apply()
    assert result.returncode == 1
    unknown = sorted(a for a, v in project.recorded().items() if v.status.value == "unknown")
    assert len(unknown) == 2 and "uni/a" in unknown
    text = result.stdout
    assert "may have been paid for" in text and "reconciler apply --replace" in text
    for address in unknown:
        assert f"  {address}: " in text
    assert len(sim.calls("create")) == 3  # never re-sent in the same run

    # docs/specs.md: a noop shown as "outcome unknown", with the command that renders it on purpose
    changes = {c["address"]: c for c in project.plan_json()["changes"]}
    for address in unknown:
        assert changes[address]["action"] == "noop"
        assert "outcome unknown" in changes[address]["reason"]
        assert f"reconciler apply --replace {address}" in changes[address]["reason"]
    human = project.run("plan")
    assert human.returncode == 0 and "Outcome unknown (2 videos)" in human.stdout, human.stdout
    for address in unknown:
        assert f"reconciler apply --replace {address}" in human.stdout
    for _ in range(3):  # plain applies never send them again
        again = project.apply()
        assert again.returncode == 0, again.stdout + again.stderr
        assert "No changes" in again.stdout and "Outcome unknown" in again.stdout
    assert len(sim.calls("create")) == 3

    on_purpose = project.apply("--replace", "uni/a")  # a person asks: one more render, of that video only
    assert on_purpose.returncode == 0, on_purpose.stdout + on_purpose.stderr
    assert len(sim.calls("create")) == 4 and project.recorded()["uni/a"].status.value == "finished"
    assert_consistent(project, all_finished=False)


def test_scripted_apply_loop_after_a_kill_never_pays_twice(project, sim):
    """`until reconciler apply --auto-approve; do :; done` after kill -9 with creates in
    flight: the vendor made those renders (the ledger says so), their answers never
    arrived, and no later apply of the loop sends them again."""
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"}, unisound={"uni/a": "a", "uni/b": "b"})
    sim.faults({"queue": {"xingyun.create": [{"fault": "slow", "delay_ms": 20000}],
                          "unisound.create": [{"fault": "slow", "delay_ms": 20000}]}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: len([c for c in sim.calls("create") if c["ok"]]) == 4, what="all four creates made")
    wait_until(lambda: sum(v.status.value == "rendering" for v in project.recorded().values()) == 2,
               what="the two answered creates recorded")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)

    codes = []
    for _ in range(4):  # the scripted loop, bounded (on PostgreSQL: once the dead writer's lease ran out)
        result = project.apply_when_free()
        codes.append(result.returncode)
        if result.returncode == 0:
            break
    assert codes[-1] == 0, codes
    creates = [c for c in sim.calls("create") if c["ok"]]
    assert len(creates) == 4, creates  # nothing paid twice
    assert len({c["fingerprint"] for c in creates}) == 4
    statuses = sorted(v.status.value for v in project.recorded().values())
    assert statuses == ["finished", "finished", "unknown", "unknown"], statuses
    assert_consistent(project, all_finished=False)
    assert_no_duplicate_renders(project)


def test_refused_create_fails_with_the_vendors_reason(project, sim):
    project.write_specs(unisound={"uni/a": "a", "uni/b": "b"})
    sim.faults({"unisound_quota": 1})
    result = project.apply()
    assert result.returncode == 1
    assert "Failed:" in result.stdout and "quota" in result.stdout
    statuses = sorted(v.status.value for v in project.recorded().values())
    assert statuses == ["failed", "finished"]
