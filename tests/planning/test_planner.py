"""The planner's shortcut for settled videos (``planner._settled``) never changes a plan:
over every combination of the fields the rules read, the change is the one the full
rules give."""

from __future__ import annotations

import itertools

from reconciler.model import DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner


def variants():
    for status, fp, lost, out_file, out_fp, spec, labels, protect, replace in itertools.product(
            list(Status), ("f", "g"), (False, True), (None, "outputs/a.mp4"), (None, "f", "old"),
            ("specs/a.yaml", "specs/b.yaml", ""), ({}, {"k": "v"}), (False, True), (False, True)):
        d = DesiredVideo("a", "xingyun", {"look_name": "x"}, "f", "specs/a.yaml", labels={"k": "v"})
        r = RecordedVideo("a", "xingyun", fp, status, spec, {"look_name": "x"}, labels, protect,
                          task_id="t-1", output_file=out_file, output_fingerprint=out_fp, output_lost=lost)
        yield d, r, PlanOptions(replace=frozenset({"a"}) if replace else frozenset())


def test_the_shortcut_gives_exactly_the_change_of_the_full_rules(monkeypatch):
    cases = list(variants())
    fast = [planner._change("a", d, r, o) for d, r, o in cases]
    assert sum(planner._settled(d, r, o) for d, r, o in cases) > 0
    monkeypatch.setattr(planner, "_settled", lambda d, r, options: False)
    slow = [planner._change("a", d, r, o) for d, r, o in cases]
    assert fast == slow


def test_changes_built_without_the_dataclass_init_equal_the_ones_it_builds():
    """``planner._plain`` (the quick build of creates and settled noops) gives exactly
    ``Change(...)``: every field, the defaults included, so a field added to ``Change``
    cannot be left unset on the common path."""
    from reconciler.model import Action, Change

    d = DesiredVideo("a", "xingyun", {"look_name": "x"}, "f", "specs/a.yaml")
    for r in (None, RecordedVideo("a", "xingyun", "f", Status.FINISHED, "specs/a.yaml")):
        quick = planner._plain("a", Action.CREATE, "xingyun", "new video", "specs/a.yaml", d, r)
        built = Change("a", Action.CREATE, "xingyun", "new video", "specs/a.yaml", d, r)
        assert quick == built and vars(quick) == vars(built)
