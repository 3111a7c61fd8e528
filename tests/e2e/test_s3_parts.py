"""Renders by parts with outputs in a bucket (docs/parts.md, docs/outputs.md): parts are
published as objects of their own, fetched back for the join, and the joined video and
its caption files are objects beside each other; an edit pays one part, a revert none."""

from __future__ import annotations

import re

from reconciler.media import verify
from tests.e2e.support import XINGYUN_SPEC, on_both_backends

SEGMENTS = ["第一段讲开场。", "第二段讲议程安排。", "第三段。", "第四段讲嘉宾介绍和合作伙伴。", "第五段讲展区。", "第六段谢谢大家。"]
CUE_END = re.compile(r"--> (\d\d):(\d\d):(\d\d)\.(\d\d\d)")


def write(project, segments: list[str]) -> None:
    lines = ["  course/lesson:", "    video_name: lesson", "    split: segments", "    captions: [srt, vtt]",
             "    segment:"] + [f"      - text: {text}" for text in segments]
    specs = project.root / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "xingyun.yaml").write_text(XINGYUN_SPEC.format(videos="\n".join(lines)))


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project):
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr


def check(project, tmp_path, segments: list[str]) -> None:
    entry = project.manifest()["videos"]["course/lesson"]
    assert entry["file"] == project.url("course/lesson", entry["sha256"])
    key = project.key("course/lesson", entry["sha256"])
    local = tmp_path / "joined.mp4"
    local.write_bytes(project.get(key))
    info = verify.probe(local)
    assert abs(info.duration_s - sum(p["duration_s"] for p in entry["parts"])) <= 0.1 + 1e-6
    assert len(entry["parts"]) == len(segments)
    head = f"s3://{project.bucket}/"
    vtt = project.get(entry["captions"]["vtt"][len(head):]).decode()
    srt = project.get(entry["captions"]["srt"][len(head):]).decode()
    assert vtt.startswith("WEBVTT") and " --> " in srt
    shown = "".join(line for line in vtt.split("\n")[1:] if line and "-->" not in line)
    assert shown == "".join(segments)
    h, m, s, ms = map(int, CUE_END.findall(vtt)[-1])
    assert abs(h * 3600 + m * 60 + s + ms / 1000 - info.duration_s) <= 0.1
    videos = [k for k in project.objects(posters=True) if k.startswith(f"{project.prefix}/course/lesson/")]
    posters = [k for k in videos if k.endswith(".jpg")]
    videos = [k for k in videos if not k.endswith(".jpg")]
    assert len(posters) == 1
    assert sorted(videos) == sorted([key] + [entry["captions"][f][len(head):] for f in ("srt", "vtt")])
    assert not (project.root / "outputs").exists() and not list((project.root / "state").glob("joins/**/*.mp4"))


@on_both_backends
def test_parts_in_a_bucket_pay_six_then_one_then_none(s3_project, sim, tmp_path):
    project = s3_project
    write(project, SEGMENTS)
    applied(project)
    assert creates(sim) == 6
    check(project, tmp_path, SEGMENTS)
    edited = SEGMENTS[:5] + ["第六段谢谢各位。"]
    write(project, edited)
    assert project.plan_json()["estimate"]["renders"] == 1
    applied(project)
    assert creates(sim) == 7
    check(project, tmp_path, edited)
    write(project, SEGMENTS)
    assert project.plan_json()["estimate"]["renders"] == 0
    applied(project)
    assert creates(sim) == 7
    check(project, tmp_path, SEGMENTS)
    assert project.plan_actions() == {"course/lesson": "noop"}
