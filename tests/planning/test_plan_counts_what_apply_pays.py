"""Issue 19 §1 in the planner: the renders a plan counts are the ones apply pays.
``--replace`` is never served from the cache; the same content twice renders once; an
entry the caller's cheap look cannot serve is planned again as a render, saying why;
an output another checkout downloaded is not servable here."""

from __future__ import annotations

from reconciler.model import Action, DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner, view


def desired(address: str, fingerprint: str = "f") -> DesiredVideo:
    return DesiredVideo(address, "xingyun", {"look_name": fingerprint}, fingerprint, "specs/a.yaml")


def finished(address: str, fingerprint: str = "f", place: str | None = None) -> RecordedVideo:
    return RecordedVideo(address, "xingyun", fingerprint, Status.FINISHED, "specs/a.yaml", {"look_name": fingerprint},
                         task_id="t", output_file=f"outputs/{address}.mp4", output_sha256="s", output_bytes=1,
                         output_fingerprint=fingerprint, output_task_id="t", output_place=place)


def by_address(plan) -> dict:
    return {c.address: c for c in plan.changes}


def test_a_forced_replace_is_a_paid_render_even_with_the_content_cached():
    plan = planner.make_plan({"a": desired("a")}, {"a": finished("a")},
                             PlanOptions(replace=frozenset({"a"}), cached=frozenset({"f"})))
    (change,) = plan.changes
    assert change.action is Action.REPLACE and change.renders == 1 and not change.from_cache
    assert plan.renders == 1 and planner.FROM_CACHE not in change.reason


def test_the_same_content_twice_renders_once_the_first_by_address():
    plan = planner.make_plan({a: desired(a) for a in ("c", "a", "b")}, {}, PlanOptions())
    changes = by_address(plan)
    assert [changes[a].renders for a in ("a", "b", "c")] == [1, 0, 0] and plan.renders == 1
    assert changes["b"].same_as == changes["c"].same_as == "a" and changes["a"].same_as is None
    assert "same content as a" in changes["c"].reason
    doc = view.plan_to_json(plan)
    assert {c["address"]: c["renders"] for c in doc["changes"]} == {"a": 1, "b": 0, "c": 0}
    assert doc["estimate"]["renders"] == 1


def test_the_same_content_twice_with_no_cache_or_forced_renders_each():
    videos = {a: desired(a) for a in ("a", "b")}
    assert planner.make_plan(videos, {}, PlanOptions(use_cache=False)).renders == 2
    recorded = {"b": finished("b", "old")}
    assert planner.make_plan(videos, recorded, PlanOptions(replace=frozenset({"b"}))).renders == 2


def test_an_entry_the_look_cannot_serve_is_planned_as_a_render_saying_why():
    asked = []

    def unservable(fingerprints):
        asked.append(fingerprints)
        return {"f": "cached file is missing"}

    plan = planner.make_plan({"a": desired("a"), "b": desired("b", "g")}, {},
                             PlanOptions(cached=frozenset({"f", "g", "unused"})), unservable=unservable)
    changes = by_address(plan)
    assert asked == [frozenset({"f", "g"})]  # only the entries the plan counted free
    assert changes["a"].renders == 1 and "render cache cannot serve it (cached file is missing)" in changes["a"].reason
    assert changes["b"].renders == 0 and changes["b"].from_cache
    assert plan.renders == 1


def test_an_output_another_checkout_downloaded_is_not_servable_here():
    recorded = {"a": finished("a", place="host-a:/p")}
    videos = {"a": desired("a"), "b": desired("b")}
    here = planner.make_plan(videos, recorded, PlanOptions(place="host-a:/p"))
    there = planner.make_plan(videos, recorded, PlanOptions(place="host-b:/p"))
    assert by_address(here)["b"].renders == 0 and by_address(there)["b"].renders == 1


def test_a_saved_plan_that_now_counts_more_renders_is_stale(tmp_path):
    """``plan --out`` counted a render as free; the cache entry is gone when it is
    applied: the same actions, one more paid render. Refused, naming the figures."""
    import pytest

    from reconciler.errors import StalePlanError
    from reconciler.planning import saved_plan
    from reconciler.planning.request import Request

    videos, options = {"a": desired("a")}, PlanOptions(cached=frozenset({"f"}))
    path = tmp_path / "out.plan"
    saved_plan.save_plan(path, planner.make_plan(videos, {}, options), request=Request(),
                         specs_digest="s", state_generation=1, config_digest="c")
    replanned = planner.make_plan(videos, {}, options, unservable=lambda fps: {"f": "cached file is missing"})
    with pytest.raises(StalePlanError, match=r"counts 1 paid render\(s\) where the saved plan counted 0 \(the render cache can no longer serve a\)"):
        saved_plan.check_fresh(saved_plan.load_plan(path), specs_digest="s", state_generation=1, config_digest="c",
                               replanned=replanned)
