"""What a user reads from a plan: the JSON document (docs/formats.md) and the text output."""

from __future__ import annotations

import io
import json

from rich.console import Console

from reconciler.model import DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner, view


def desired(address, fingerprint="f", provider="xingyun", request=None, tts_chars=0, **kw):
    return DesiredVideo(address=address, provider=provider, request=request or {}, fingerprint=fingerprint,
                        spec_file=kw.pop("spec_file", "specs/main.yaml"), tts_chars=tts_chars, **kw)


def recorded(address, fingerprint="f", provider="xingyun", status=Status.FINISHED, request=None, **kw):
    kw.setdefault("output_file", f"outputs/{address}.mp4" if status is Status.FINISHED else None)
    return RecordedVideo(address=address, provider=provider, fingerprint=fingerprint, status=status,
                         spec_file=kw.pop("spec_file", "specs/main.yaml"), request=request or {}, **kw)


def mixed_plan():
    d = {
        "new": desired("new", tts_chars=10),
        "same": desired("same"),
        "talk": desired("talk", "f2", "unisound", {"text": "hello there"}, tts_chars=11),
        "relabel": desired("relabel", labels={"owner": "sales"}),
    }
    r = {
        "same": recorded("same"),
        "talk": recorded("talk", "f1", "unisound", Status.RENDERING, {"text": "hello"}, task_id="u-1"),
        "relabel": recorded("relabel", labels={"owner": "support"}),
        "gone": recorded("gone"),
    }
    return planner.make_plan(d, r, PlanOptions())


def render(plan, width=100) -> str:
    buf = io.StringIO()
    view.print_plan(plan, Console(file=buf, width=width, force_terminal=False, color_system=None))
    return buf.getvalue()


def test_json_document_has_the_contract_shape():
    doc = view.plan_to_json(mixed_plan())
    assert set(doc) == {"format_version", "changes", "summary", "estimate"}
    assert doc["format_version"] == 1
    assert [c["address"] for c in doc["changes"]] == ["gone", "new", "relabel", "same", "talk"]
    assert doc["changes"][1] == {"address": "new", "action": "create", "provider": "xingyun",
                                 "reason": "new video", "file": "specs/main.yaml", "renders": 1}
    assert doc["summary"] == {"create": 1, "replace": 1, "update": 1, "delete": 1, "noop": 1}
    assert doc["estimate"] == {"renders": 2, "tts_chars": 21}
    json.dumps(doc)  # serialisable as is


def test_json_details_only_where_there_are_some():
    doc = view.plan_to_json(mixed_plan())
    by_address = {c["address"]: c for c in doc["changes"]}
    assert by_address["talk"]["details"] == ["- hello", "+ hello there"]
    assert all("details" not in c for a, c in by_address.items() if a != "talk")


def test_text_lists_changes_with_symbols_and_omits_noops():
    out = render(mixed_plan())
    assert "  + new  (xingyun, create)" in out
    assert "  -/+ talk  (unisound, replace)" in out
    assert "  ~ relabel  (xingyun, update)" in out
    assert "  - gone  (xingyun, delete)" in out
    assert "same" not in out
    assert "labels changed: owner support → sales" in out
    assert "        - hello\n        + hello there" in out
    assert "Plan: 1 to create, 1 to replace, 1 to update, 1 to delete, 1 unchanged." in out
    assert "Estimated cost: 2 renders, 21 TTS characters." in out


def test_text_says_when_a_unisound_render_is_abandoned():
    out = render(mixed_plan())
    assert "will be abandoned: Unisound has no cancel API" in out
    assert "Note: 1 unfinished render (talk) will be abandoned, not cancelled: Unisound has no cancel API." in out


def test_text_for_no_changes():
    plan = planner.make_plan({"a": desired("a")}, {"a": recorded("a")}, PlanOptions())
    assert render(plan).strip() == "No changes. Your renders match the specs."


def test_user_text_is_not_read_as_rich_markup():
    d = {"a": desired("a", "new", "unisound", {"text": "[bold]hi[/bold] [red]"})}
    r = {"a": recorded("a", "old", "unisound", request={"text": "x"})}
    out = render(planner.make_plan(d, r, PlanOptions()))
    assert "+ [bold]hi[/bold] [red]" in out


def test_long_reasons_wrap_under_their_indent():
    d = {"a": desired("a", "new", request={"look_name": "B" * 30, "studio_name": "S" * 30, "video_name": "V" * 30})}
    r = {"a": recorded("a", "old", request={"look_name": "A", "studio_name": "T", "video_name": "W"})}
    out = render(planner.make_plan(d, r, PlanOptions()), width=60)
    body = [line for line in out.splitlines() if line and not line.startswith(("  -/+", "Plan:", "Estimated", "reconciler"))]
    assert len(body) > 1
    assert all(line.startswith("      ") and line == line.rstrip() for line in body)


def test_json_text_is_the_same_document_one_change_per_line():
    plan = mixed_plan()
    text = view.plan_json_text(plan)
    assert json.loads(text) == json.loads(json.dumps(view.plan_to_json(plan)))
    change_lines = [line for line in text.splitlines() if line.strip().startswith('{"address"')]
    assert len(change_lines) == len(plan.changes)
    empty = planner.make_plan({}, {}, PlanOptions())
    assert json.loads(view.plan_json_text(empty))["changes"] == []


def test_json_text_lines_are_exactly_what_json_dumps_writes():
    """Each change line is byte for byte json.dumps of the change (ensure_ascii=False), so
    scripts that diff or grep plan files see the same text as before, whatever the text holds."""
    odd = 'quote " backslash \\ tab \t newline \n bell \x07 中文 emoji 🎬 \u2028'
    d = {f"a/{odd}": desired(f"a/{odd}", "f2", "unisound", {"text": odd}, spec_file=f"specs/{odd}.yaml"),
         "b": desired("b", "f1", "unisound", {"text": "x\ny"})}
    r = {"b": recorded("b", "f0", "unisound", request={"text": "x\nz"}), "gone": recorded("gone", spec_file="")}
    plan = planner.make_plan(d, r, PlanOptions(allow_mass_delete=True))
    assert any(c.details for c in plan.changes) and any(c.file is None for c in plan.changes)
    text = view.plan_json_text(plan)
    lines = [line.strip().rstrip(",") for line in text.split("\n") if line.strip().startswith('{"address"')]
    assert lines == [json.dumps(view.change_to_json(c), ensure_ascii=False) for c in plan.changes]
    assert json.loads(text) == view.plan_to_json(plan)
