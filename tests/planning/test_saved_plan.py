"""Saved plans: a roundtrip, refusal when anything they were made from moved, clear
errors for files that are not plans, and no secret in the file."""

from __future__ import annotations

import pytest

from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.model import DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner, saved_plan, view
from reconciler.planning.request import Request

OPTIONS = PlanOptions(targets=frozenset({"launch/"}), replace=frozenset({"launch/intro"}),
                      allow_mass_delete=True, max_delete_share=0.25)
REQUEST = Request(targets=OPTIONS.targets, replace=OPTIONS.replace, variables={"city": "上海"},
                  allow_mass_delete=True)


def make(fingerprint="f2", options=OPTIONS):
    desired = {
        "launch/intro": DesiredVideo("launch/intro", "xingyun", {"look_name": "B"}, fingerprint, "specs/l.yaml"),
        "launch/outro": DesiredVideo("launch/outro", "xingyun", {}, "f9", "specs/l.yaml"),
    }
    recorded = {"launch/intro": RecordedVideo("launch/intro", "xingyun", "f1", Status.FINISHED,
                                              "specs/l.yaml", {"look_name": "A"})}
    return planner.make_plan(desired, recorded, options)


def save(path, plan, **overrides):
    kw = dict(request=REQUEST, specs_digest="s1", state_generation=7, config_digest="c1")
    kw.update(overrides)
    saved_plan.save_plan(path, plan, **kw)


def test_roundtrip(tmp_path):
    path = tmp_path / "out.plan"
    plan = make()
    save(path, plan)
    saved = saved_plan.load_plan(path)
    assert saved.plan_json == view.plan_to_json(plan)
    assert saved.request == REQUEST
    assert (saved.specs_digest, saved.state_generation, saved.config_digest) == ("s1", 7, "c1")
    assert [p.name for p in tmp_path.iterdir()] == ["out.plan"]  # no temp file left
    saved_plan.check_fresh(saved, specs_digest="s1", state_generation=7, config_digest="c1", replanned=make())


@pytest.mark.parametrize("changed, expected", [
    ({"specs_digest": "s2"}, "the specs or variables changed"),
    ({"state_generation": 8}, "the state changed (generation 7 → 8"),
    ({"config_digest": "c2"}, "reconciler.yaml changed"),
])
def test_stale_plans_are_refused_naming_what_changed(tmp_path, changed, expected):
    path = tmp_path / "out.plan"
    save(path, make())
    now = {"specs_digest": "s1", "state_generation": 7, "config_digest": "c1", **changed}
    with pytest.raises(StalePlanError) as excinfo:
        saved_plan.check_fresh(saved_plan.load_plan(path), replanned=make(), **now)
    assert expected in str(excinfo.value)
    assert "run `reconciler plan` again" in str(excinfo.value).lower()


def test_every_change_is_named_at_once(tmp_path):
    path = tmp_path / "out.plan"
    save(path, make())
    with pytest.raises(StalePlanError) as excinfo:
        saved_plan.check_fresh(saved_plan.load_plan(path), specs_digest="x", state_generation=9, config_digest="y",
                             replanned=make())
    message = str(excinfo.value)
    assert "specs" in message and "state" in message and "reconciler.yaml" in message


def test_a_plan_that_would_come_out_different_is_stale(tmp_path):
    path = tmp_path / "out.plan"
    plain = PlanOptions()
    save(path, make(options=plain), request=Request())
    replanned = make(fingerprint="f1", options=plain)  # now up to date: no replace
    with pytest.raises(StalePlanError, match="gives different changes"):
        saved_plan.check_fresh(saved_plan.load_plan(path), specs_digest="s1", state_generation=7, config_digest="c1",
                             replanned=replanned)


@pytest.mark.parametrize("content, expected", [
    (None, "no such plan file"),
    (b"", "not valid JSON"),
    (b"\x00\xff garbage", "not valid JSON"),
    (b'{"format_version": 1, "changes": []}', "not a reconciler plan file"),  # a `plan --json` document
    (b'["a list"]', "not a reconciler plan file"),
    (b'{"kind": "reconciler-plan", "format_version": 99}', "not one this reconciler reads"),
    (b'{"kind": "reconciler-plan", "format_version": 1, "plan": {}}', "corrupt plan file"),
])
def test_files_that_are_not_plans_get_a_clear_error(tmp_path, content, expected):
    path = tmp_path / "bad.plan"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ReconcilerError) as excinfo:
        saved_plan.load_plan(path)
    assert expected in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_truncated_plan_file(tmp_path):
    path = tmp_path / "out.plan"
    save(path, make())
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ReconcilerError, match="not valid JSON"):
        saved_plan.load_plan(path)


def test_no_secret_in_the_plan_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XINGYUN_APP_ID", "app-id-123")
    monkeypatch.setenv("XINGYUN_APP_SECRET", "xy-secret-0f9a8b7c")
    monkeypatch.setenv("UNISOUND_SECRET", "us-secret-77d1e2")
    path = tmp_path / "out.plan"
    save(path, make())
    data = path.read_bytes()
    assert b"xy-secret-0f9a8b7c" not in data and b"us-secret-77d1e2" not in data


def test_a_secret_passed_as_a_variable_is_not_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("UNISOUND_SECRET", "us-secret-77d1e2")
    path = tmp_path / "out.plan"
    with pytest.raises(ReconcilerError, match="UNISOUND_SECRET") as excinfo:
        save(path, make(), request=Request(variables={"key": "us-secret-77d1e2"}))
    assert "us-secret-77d1e2" not in str(excinfo.value)
    assert not path.exists()


def test_a_format_1_file_is_read_as_the_same_request(tmp_path):
    """A plan saved by the version before requests (options and variables apart) is still
    applied: its options and variables are the request, its max_delete_share is the
    config's (pinned by the config digest)."""
    import json

    path = tmp_path / "old.plan"
    plan = make()
    path.write_text(json.dumps({
        "kind": "reconciler-plan", "format_version": 1, "plan": view.plan_to_json(plan),
        "options": {"targets": ["launch/"], "replace": ["launch/intro"], "allow_mass_delete": True,
                    "max_delete_share": 0.25, "use_cache": False},
        "variables": {"city": "上海"}, "specs_digest": "s1", "state_generation": 7, "config_digest": "c1"}))
    saved = saved_plan.load_plan(path)
    assert saved.request == Request(targets=frozenset({"launch/"}), replace=frozenset({"launch/intro"}),
                                    variables={"city": "上海"}, allow_mass_delete=True, use_cache=False)
    saved_plan.check_fresh(saved, specs_digest="s1", state_generation=7, config_digest="c1", replanned=make())


def test_a_request_that_is_not_one_is_a_corrupt_file(tmp_path):
    path = tmp_path / "out.plan"
    save(path, make())
    import json

    doc = json.loads(path.read_text())
    doc["request"]["allow_mass_delete"] = "yes"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReconcilerError, match="corrupt plan file .*allow_mass_delete"):
        saved_plan.load_plan(path)
