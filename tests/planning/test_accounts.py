"""The planner and vendor accounts (docs/team.md): a replace or delete of a render created
with another account than this checkout's is held back as a noop naming that account; a
render of this account, or one recorded before accounts were (no account), is planned as
before."""

from __future__ import annotations

from reconciler.model import Action, DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning.planner import make_plan

MINE = {"xingyun": "app-b@vendor.example"}


def desired(address: str, fingerprint: str = "fp2") -> DesiredVideo:
    return DesiredVideo(address=address, provider="xingyun", request={"look_name": fingerprint},
                        fingerprint=fingerprint, spec_file="specs/a.yaml")


def recorded(address: str, account: str | None, status: Status = Status.FINISHED) -> RecordedVideo:
    return RecordedVideo(address=address, provider="xingyun", fingerprint="fp1", status=status,
                         spec_file="specs/a.yaml", task_id="t-" + address, output_file=f"outputs/{address}.mp4",
                         output_fingerprint="fp1", output_task_id="t-" + address, account=account)


def test_another_accounts_replace_and_delete_are_held_and_say_whose():
    plan = make_plan({"x": desired("x")}, {"x": recorded("x", "app-a@vendor.example"),
                                           "gone": recorded("gone", "app-a@vendor.example")},
                     PlanOptions(accounts=MINE))
    changes = {c.address: c for c in plan.changes}
    assert {a: c.action for a, c in changes.items()} == {"gone": Action.NOOP, "x": Action.NOOP}
    assert all(c.held_for == "app-a@vendor.example" for c in changes.values())
    assert "owned by another account (xingyun app id app-a at vendor.example)" in changes["x"].reason
    assert "it would be rendered again: render settings changed" in changes["x"].reason  # what the specs ask for
    assert "it would be deleted" in changes["gone"].reason
    assert plan.renders == 0 and not plan.has_changes


def test_this_accounts_and_unrecorded_accounts_renders_are_planned_as_before():
    plan = make_plan({"x": desired("x"), "old": desired("old")},
                     {"x": recorded("x", "app-b@vendor.example"), "old": recorded("old", None),
                      "gone": recorded("gone", "app-b@vendor.example")},
                     PlanOptions(accounts=MINE))
    assert {c.address: c.action for c in plan.changes} == {
        "gone": Action.DELETE, "old": Action.REPLACE, "x": Action.REPLACE}
    assert all(c.held_for is None for c in plan.changes)


def test_an_unchanged_video_of_another_account_is_left_alone_quietly():
    plan = make_plan({"x": desired("x", "fp1")}, {"x": recorded("x", "app-a@vendor.example")},
                     PlanOptions(accounts=MINE))
    assert [(c.action, c.held_for, c.reason) for c in plan.changes] == [(Action.NOOP, None, "up to date")]


def test_the_pull_request_comment_names_the_held_videos_and_their_account():
    from reconciler.planning.markdown import plan_markdown

    plan = make_plan({"x": desired("x")}, {"x": recorded("x", "app-a@vendor.example")}, PlanOptions(accounts=MINE))
    assert "1 video owned by another account, not changed by this checkout: `x` (xingyun app id app-a at " \
           "vendor.example)" in plan_markdown(plan)
