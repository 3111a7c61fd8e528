"""`reconciler apply` under injected vendor faults (the sim's fault tables)."""

from __future__ import annotations

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders

# 25% of calls fail with a 5xx, 10% answer slowly, 5% are dropped without an answer.
# Unisound's one-shot downloads are left alone: a failed one-shot download is a lost
# output and a visible re-render by design (see test_e2e_crash), not a retry.
NOISY = {"http_503": 0.15, "http_500": 0.10, "slow": {"p": 0.10, "delay_ms": 400}, "drop": 0.05}
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
        # a create whose answer was lost is named, and re-rendered by the next apply
        assert "Unknown" in results[-1].stdout, results[-1].stdout + results[-1].stderr
    assert results[-1].returncode == 0, results[-1].stdout + results[-1].stderr
    faulted = [e for e in sim.ledger() if e["fault"]]
    assert len(faulted) >= 8  # the faults really happened
    assert_consistent(project)
    assert_no_duplicate_renders(project)


def test_lost_create_answers_are_reported_unknown_and_rendered_again_next_time(project, sim):
    project.write_specs(xingyun={"xy/a": "a", "xy/b": "b"}, unisound={"uni/a": "a"})
    sim.faults({"queue": {"xingyun.create": ["lost"], "unisound.create": ["lost"]}})
    result = project.apply()
    assert result.returncode == 1
    unknown = sorted(a for a, v in project.recorded().items() if v.status.value == "unknown")
    assert len(unknown) == 2 and "uni/a" in unknown
    text = result.stdout
    assert "may have been paid for" in text and "the next plan will propose to render it again" in text
    for address in unknown:
        assert f"  {address}: " in text
    assert len(sim.calls("create")) == 3  # never re-sent in the same run

    actions = project.plan_actions()
    assert {a: actions[a] for a in unknown} == {a: "replace" for a in unknown}
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(sim.calls("create")) == 5
    assert_consistent(project)
    assert_no_duplicate_renders(project)


def test_refused_create_fails_with_the_vendors_reason(project, sim):
    project.write_specs(unisound={"uni/a": "a", "uni/b": "b"})
    sim.faults({"unisound_quota": 1})
    result = project.apply()
    assert result.returncode == 1
    assert "Failed:" in result.stdout and "quota" in result.stdout
    statuses = sorted(v.status.value for v in project.recorded().values())
    assert statuses == ["failed", "finished"]
