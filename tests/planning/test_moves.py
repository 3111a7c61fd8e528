"""A renamed address is shown as a move (docs/cache.md, issue 22): the create served from
the render cache and the delete of the video whose published output is that render stay a
create and a delete for apply and in `plan --json` (naming each other), and read as one
line in the text plan and one row in the Markdown."""

from __future__ import annotations

import json

from reconciler.model import Action, PlanOptions, Status
from reconciler.planning import markdown, planner, view
from tests.planning.test_view import desired, recorded, render


def published(address, fingerprint="f1", **kw):
    return recorded(address, fingerprint, output_fingerprint=fingerprint, task_id=f"t-{address}", **kw)


def plan_of(d: list, r: list, **options):
    return planner.make_plan({v.address: v for v in d}, {v.address: v for v in r}, PlanOptions(**options))


def by_address(plan):
    return {c.address: c for c in plan.changes}


def renamed():
    return plan_of([desired("launch/b", "f1"), desired("keep", "k")], [published("launch/a"), published("keep", "k")])


def test_a_rename_is_a_create_and_a_delete_that_name_each_other():
    plan = renamed()
    c = by_address(plan)
    assert c["launch/b"].action is Action.CREATE and c["launch/b"].moved_from == "launch/a"
    assert c["launch/b"].renders == 0 and "moved from launch/a; from the render cache: no render" == c["launch/b"].reason
    assert c["launch/a"].action is Action.DELETE and c["launch/a"].moved_to == "launch/b"
    assert c["launch/a"].reason.startswith("moved to launch/b (was in specs/main.yaml)")
    assert c["keep"].moved_from is None and c["keep"].moved_to is None
    assert plan.summary == {"create": 1, "replace": 0, "update": 0, "delete": 1, "noop": 1}
    assert plan.renders == 0


def test_pairs_are_one_to_one_in_address_order():
    plan = plan_of([desired("n1", "f1"), desired("n2", "f1"), desired("n3", "f1")],
                   [published("o1"), published("o2")], allow_mass_delete=True)
    c = by_address(plan)
    assert (c["n1"].moved_from, c["n2"].moved_from, c["n3"].moved_from) == ("o1", "o2", None)
    assert (c["o1"].moved_to, c["o2"].moved_to) == ("n1", "n2")
    assert c["n3"].renders == 0  # still served from the cache, just not a move


def test_not_a_move_without_the_cache_or_without_the_old_output():
    no_cache = by_address(plan_of([desired("launch/b", "f1")], [published("launch/a")], use_cache=False,
                                  allow_mass_delete=True))
    assert no_cache["launch/b"].moved_from is None and no_cache["launch/b"].renders == 1
    assert no_cache["launch/a"].moved_to is None
    lost = by_address(plan_of([desired("launch/b", "f1")], [published("launch/a", output_lost=True)],
                              cached=frozenset({"f1"}), allow_mass_delete=True))
    assert lost["launch/b"].renders == 0 and lost["launch/b"].moved_from is None  # served, but a's output is gone
    other = by_address(plan_of([desired("launch/b", "f2")], [published("launch/a")], cached=frozenset({"f2"}),
                               allow_mass_delete=True))
    assert other["launch/b"].moved_from is None and other["launch/a"].moved_to is None


def test_a_delete_left_out_by_target_is_no_move():
    plan = plan_of([desired("launch/b", "f1"), desired("keep", "k")], [published("launch/a"), published("keep", "k")],
                   targets=frozenset({"launch/b"}))
    c = by_address(plan)
    assert c["launch/a"].action is Action.NOOP
    assert c["launch/b"].renders == 0 and c["launch/b"].moved_from is None


def test_json_names_the_pair_on_both_paths():
    plan = renamed()
    doc = view.plan_to_json(plan)
    c = {e["address"]: e for e in doc["changes"]}
    assert c["launch/b"]["moved_from"] == "launch/a" and c["launch/b"]["action"] == "create"
    assert c["launch/b"]["renders"] == 0
    assert c["launch/a"]["moved_to"] == "launch/b" and c["launch/a"]["action"] == "delete"
    assert "moved_to" not in c["launch/b"] and "moved_from" not in c["launch/a"] and "moved_from" not in c["keep"]
    text = view.plan_json_text(plan)
    assert json.loads(text)["changes"] == doc["changes"]
    assert [json.dumps(view.change_to_json(ch), ensure_ascii=False) for ch in plan.changes] == \
        [line.strip().rstrip(",") for line in text.splitlines() if line.strip().startswith('{"address"')]


def test_text_plan_shows_one_move_line():
    out = render(renamed(), width=200)
    assert "→ launch/a has moved to launch/b (from the render cache: no render)  (xingyun, move)" in out
    assert "+ launch/b" not in out and "- launch/a" not in out
    assert ("Plan: 1 to create, 0 to replace, 0 to update, 1 to delete, 1 unchanged. "
            "A move counts as a create and a delete.") in out
    assert "Estimated cost: 0 renders" in out


def test_text_plan_says_what_happens_to_a_render_still_running_at_the_old_address():
    old = recorded("launch/a", "f2", status=Status.RENDERING, output_file="outputs/launch/a.mp4", output_fingerprint="f1",
                   task_id="t-2")
    out = render(plan_of([desired("launch/b", "f1"), desired("keep", "k")], [old, published("keep", "k")]), width=200)
    assert "launch/a has moved to launch/b" in out
    assert "its unfinished render (task t-2) will be cancelled" in out


def test_markdown_shows_one_move_row():
    md = markdown.plan_markdown(renamed())
    rows = [line for line in md.splitlines() if "launch/" in line and line.startswith("|")]
    assert rows == ["| `→` move | `launch/a` → `launch/b` | xingyun "
                    "| launch/a has moved to launch/b (from the render cache: no render) | specs/main.yaml |"]
