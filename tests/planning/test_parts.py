"""The plan of videos by parts (docs/parts.md): renders counted in parts, a revert free,
captions no render."""

from __future__ import annotations

import json

from reconciler.model import (
    Action,
    DesiredVideo,
    PlanOptions,
    RecordedVideo,
    Status,
    part_address,
)
from reconciler.planning import view
from reconciler.planning.planner import make_plan

ADDRESS = "course/lesson"


def desired(parts: list[str], captions=(), address=ADDRESS) -> DesiredVideo:
    pieces = tuple((fp, 4) for fp in parts)
    return DesiredVideo(address, "xingyun", {"segment": []}, "video-" + "-".join(parts), "specs/a.yaml",
                        split="segments", parts=pieces, captions=tuple(captions))


def joined(d: DesiredVideo, captions=()) -> dict[str, RecordedVideo]:
    """The state after an apply of ``d``: every part rendered, the video joined."""
    rows = {d.address: RecordedVideo(d.address, "xingyun", d.fingerprint, Status.FINISHED, "specs/a.yaml",
                                     task_id="join", output_file=f"outputs/{d.address}.mp4",
                                     output_fingerprint=d.fingerprint,
                                     captions={c: f"outputs/{d.address}.{c}" for c in captions})}
    for i, (fp, _) in enumerate(d.parts):
        a = part_address(d.address, i)
        rows[a] = RecordedVideo(a, "xingyun", fp, Status.FINISHED, "specs/a.yaml", task_id=f"t{i}",
                                output_file=f"outputs/{a}.mp4", output_fingerprint=fp)
    return rows


def plan(d: DesiredVideo | None, recorded: dict, cached=frozenset()):
    return make_plan({d.address: d} if d else {}, recorded, PlanOptions(cached=frozenset(cached)))


def test_a_new_video_of_six_parts_pays_six_renders():
    p = plan(desired([f"p{i}" for i in range(6)]), {})
    (change,) = p.changes
    assert change.action is Action.CREATE and change.renders == 6 and p.renders == 6
    assert json.loads(view.plan_json_text(p))["changes"][0]["renders"] == 6
    assert change.reason == "new video: 6 parts, 6 rendered"


def test_one_edited_part_pays_one_and_a_revert_pays_none():
    before = desired([f"p{i}" for i in range(12)])
    state = joined(before)
    edited = desired([f"p{i}" for i in range(11)] + ["new"])
    p = plan(edited, state)
    (change,) = p.changes
    assert (change.action, change.renders, p.renders) == (Action.REPLACE, 1, 1)
    assert change.reason.startswith("1 of 12 parts re-rendered")
    assert json.loads(view.plan_json_text(p))["changes"][0]["renders"] == 1
    # the edited part was rendered and joined; going back finds the old part in the cache
    after = joined(edited)
    back = plan(before, after, cached={f"p{i}" for i in range(12)})
    assert (back.changes[0].action, back.renders) == (Action.REPLACE, 0)
    assert "0 of 12 parts re-rendered, 1 from the render cache" in back.changes[0].reason


def test_an_unchanged_joined_video_is_up_to_date_and_a_captions_change_is_an_update():
    d = desired(["a", "b", "c"])
    assert plan(d, joined(d)).changes[0].action is Action.NOOP
    p = plan(desired(["a", "b", "c"], captions=("srt", "vtt")), joined(d))
    change = p.changes[0]
    assert (change.action, change.renders, p.renders) == (Action.UPDATE, 0, 0)
    assert json.loads(view.plan_json_text(p))["changes"][0] == {
        "address": ADDRESS, "action": "update", "provider": "xingyun", "file": "specs/a.yaml", "renders": 0,
        "reason": "captions: none → srt, vtt (no render)"}


def test_parts_are_not_videos_of_their_own_and_go_with_their_video():
    d = desired(["a", "b"])
    p = plan(None, joined(d))
    (change,) = p.changes  # one delete, no entry per part
    assert change.action is Action.DELETE and [x.action for x in change.parts] == [Action.DELETE] * 2


def test_an_unknown_part_holds_its_video():
    d = desired(["a", "b"])
    state = joined(desired(["x", "y"]))
    state[part_address(ADDRESS, 1)] = RecordedVideo(part_address(ADDRESS, 1), "xingyun", "b", Status.UNKNOWN)
    (change,) = plan(d, state).changes
    assert change.action is Action.NOOP and change.renders == 0 and "outcome unknown of part 2" in change.reason
