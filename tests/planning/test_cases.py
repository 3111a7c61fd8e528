"""Plans tested as data: every ``tests/planning/cases/*.yaml`` is one case of ``make_plan``.

A case file holds ``desired`` and ``recorded`` (lists of compact video dicts),
optional ``options`` (targets, replace, allow_mass_delete, max_delete_share), and
either ``error: <substring or list of substrings>`` of the PlanError message, or
``expected: {address: {action, reason, ...}}`` naming *every* address of the plan,
with optional ``summary`` and ``estimate`` of the whole plan.

Per expected address: ``reason`` (substring or list of substrings of the reason),
``not_reason`` (a substring that must not appear), ``file``, ``details`` (lines that
must appear in Change.details), ``no_details: true``, ``moved_from`` / ``moved_to`` (a rename's
pair, docs/cache.md; none unless named).

Compact videos fill in what a case leaves out: provider ``xingyun``, request ``{}``,
spec_file ``specs/videos.yaml``; a recorded ``finished`` video also gets task id
``t-<address>`` and a published output ``outputs/<address>.mp4`` of its fingerprint
(write ``output_file: null`` for none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.errors import PlanError
from reconciler.model import DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner, view

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
SPEC_FILE = "specs/videos.yaml"


def desired_video(d: dict) -> DesiredVideo:
    d = {"provider": "xingyun", "request": {}, "spec_file": SPEC_FILE, **d}
    return DesiredVideo(**d)


def recorded_video(r: dict) -> RecordedVideo:
    r = {"provider": "xingyun", "request": {}, "spec_file": SPEC_FILE, "attempt": 1, **r}
    r["status"] = Status(r["status"])
    if r["status"] is Status.FINISHED:
        r.setdefault("task_id", f"t-{r['address']}")
        r.setdefault("output_file", f"outputs/{r['address']}.mp4")
        if r["output_file"] is not None:
            r.setdefault("output_fingerprint", r["fingerprint"])
            r.setdefault("output_task_id", r["task_id"])
    return RecordedVideo(**r)


def options_of(o: dict | None) -> PlanOptions:
    o = o or {}
    return PlanOptions(
        targets=frozenset(o.get("targets", [])), replace=frozenset(o.get("replace", [])),
        allow_mass_delete=o.get("allow_mass_delete", False), max_delete_share=o.get("max_delete_share"),
    )


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_there_are_enough_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan_case(path: Path):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    desired = {v.address: v for v in map(desired_video, case.get("desired") or [])}
    recorded = {v.address: v for v in map(recorded_video, case.get("recorded") or [])}
    options = options_of(case.get("options"))

    if "error" in case:
        with pytest.raises(PlanError) as excinfo:
            planner.make_plan(desired, recorded, options)
        for fragment in as_list(case["error"]):
            assert fragment in str(excinfo.value)
        return

    plan = planner.make_plan(desired, recorded, options)
    addresses = [c.address for c in plan.changes]
    assert addresses == sorted(desired.keys() | recorded.keys()), "one change per address, sorted"
    expected = case["expected"]
    assert set(addresses) == set(expected), "the case must name every address of the plan"

    for change in plan.changes:
        want = expected[change.address]
        assert change.action.value == want["action"], (change.address, change.reason)
        for fragment in as_list(want["reason"]):
            assert fragment in change.reason, (change.address, change.reason)
        if "not_reason" in want:
            assert want["not_reason"] not in change.reason
        if "file" in want:
            assert change.file == want["file"]
        for line in want.get("details", []):
            assert line in change.details, (change.address, change.details)
        if want.get("no_details"):
            assert change.details == ()
        assert (change.moved_from, change.moved_to) == (want.get("moved_from"), want.get("moved_to")), change.address

    doc = view.plan_to_json(plan)
    if "summary" in case:
        assert doc["summary"] == case["summary"]
    if "estimate" in case:
        assert doc["estimate"] == case["estimate"]
