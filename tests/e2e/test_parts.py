"""Renders by parts end to end (docs/parts.md, issue 21): the console script against the
simulator, whose clips last as long as their text. A 6-segment Xingyun video pays 6
renders, one edited segment pays 1, a revert pays 0; a 3-sentence Unisound video
likewise; the joined file decodes with the parts' frames and duration; the caption files
parse, say the script, and end with the audio."""

from __future__ import annotations

import hashlib
import json
import re
import signal

from reconciler.media import verify
from tests.e2e.support import UNISOUND_SPEC, XINGYUN_SPEC, on_both_backends

SEGMENTS = ["第一段讲开场。", "第二段讲议程安排。", "第三段。", "第四段讲嘉宾介绍和合作伙伴。", "第五段讲展区。", "第六段谢谢大家。"]
SENTENCES = ["第一句是问候。", "第二句讲清楚了要点!", "第三句?"]
FPS = 10  # the simulator's clips (sim/media.py)


def write_xingyun(project, segments: list[str], captions: str = "[srt, vtt]") -> None:
    lines = ["  course/lesson:", "    video_name: lesson", "    split: segments", f"    captions: {captions}",
             "    segment:"] + [f"      - text: {text}" for text in segments]
    _write(project, "xingyun.yaml", XINGYUN_SPEC.format(videos="\n".join(lines)))


def write_unisound(project, sentences: list[str]) -> None:
    lines = ["  faq/q3:", "    split: sentences", "    captions: [srt, vtt]", f"    text: \"{''.join(sentences)}\""]
    _write(project, "unisound.yaml", UNISOUND_SPEC.format(videos="\n".join(lines)))


def _write(project, name: str, text: str) -> None:
    specs = project.root / "specs"
    specs.mkdir(exist_ok=True)
    for old in specs.iterdir():
        old.unlink()
    (specs / name).write_text(text)


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project):
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    project.last_output = result.stdout + result.stderr  # said when a check fails
    return result


def renders_planned(project) -> int:
    doc = project.plan_json()
    assert doc["estimate"]["renders"] == sum(c["renders"] for c in doc["changes"])
    return doc["estimate"]["renders"]


CUE = re.compile(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)\n((?:.+\n)+)")


def cues(text: str) -> list[tuple[float, float, str]]:
    out = []
    for m in CUE.finditer(text):
        g = [int(x) for x in m.groups()[:8]]
        out.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000, g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000,
                    m.group(9).strip()))
    return out


def check_joined(project, address: str, script: list[str]) -> None:
    assert address in project.manifest()["videos"], getattr(project, "last_output", "")
    entry = project.manifest()["videos"][address]
    assert entry["status"] == "finished" and entry["file"] == f"outputs/{address}.mp4"
    parts = entry["parts"]
    assert len(parts) == len(script) and all(p["task_id"] for p in parts)
    joined = verify.probe(project.root / entry["file"])
    pieces = [verify.probe(project.root / f"outputs/.parts/{address}/{i + 1:02d}.mp4") for i in range(len(script))]
    assert joined.frames == sum(p.frames for p in pieces)
    assert abs(joined.duration_s - sum(p.duration_s for p in pieces)) <= 1 / FPS + 1e-6
    for part, piece in zip(parts, pieces):
        assert abs(part["duration_s"] - piece.duration_s) <= 1 / FPS
    assert abs(parts[-1]["start_s"] + parts[-1]["duration_s"] - joined.duration_s) <= 1 / FPS
    assert entry["captions"] == {"srt": f"outputs/{address}.srt", "vtt": f"outputs/{address}.vtt"}
    srt = (project.root / f"outputs/{address}.srt").read_text()
    vtt = (project.root / f"outputs/{address}.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    for text in (srt, vtt):
        found = cues(text)
        shown = "".join(line for _, _, cue in found for line in cue.split("\n"))
        assert shown == "".join(script)
        assert all(a < b for a, b, _ in found) and all(b <= c for (_, b, _), (c, _, _) in zip(found, found[1:]))
        assert abs(found[-1][1] - joined.duration_s) <= 0.1


@on_both_backends
def test_six_segments_pay_six_an_edit_pays_one_a_revert_pays_none(project, sim):
    write_xingyun(project, SEGMENTS)
    assert renders_planned(project) == 6
    applied(project)
    assert creates(sim) == 6
    check_joined(project, "course/lesson", SEGMENTS)
    first = (project.root / "outputs/course/lesson.mp4").read_bytes()
    assert project.plan_actions() == {"course/lesson": "noop"}

    edited = SEGMENTS[:3] + ["第四段讲嘉宾介绍。"] + SEGMENTS[4:]
    write_xingyun(project, edited)
    doc = project.plan_json()
    (change,) = doc["changes"]
    assert (change["action"], change["renders"]) == ("replace", 1) and "1 of 6 parts re-rendered" in change["reason"]
    applied(project)
    assert creates(sim) == 7
    check_joined(project, "course/lesson", edited)
    assert (project.root / "outputs/course/lesson.mp4").read_bytes() != first

    write_xingyun(project, SEGMENTS)  # the revert: every part is in the render cache
    assert renders_planned(project) == 0
    applied(project)
    assert creates(sim) == 7
    check_joined(project, "course/lesson", SEGMENTS)
    assert project.plan_actions() == {"course/lesson": "noop"}


def test_a_caption_only_change_is_an_update_with_no_render(project, sim):
    write_xingyun(project, SEGMENTS[:2], captions="[srt]")
    applied(project)
    assert not (project.root / "outputs/course/lesson.vtt").exists()
    write_xingyun(project, SEGMENTS[:2])
    doc = project.plan_json()
    (change,) = doc["changes"]
    assert (change["action"], change["renders"]) == ("update", 0)
    applied(project)
    assert creates(sim) == 2
    check_joined(project, "course/lesson", SEGMENTS[:2])
    assert project.plan_actions() == {"course/lesson": "noop"}


@on_both_backends
def test_three_sentences_of_unisound_pay_three_an_edit_one_a_revert_none(project, sim):
    write_unisound(project, SENTENCES)
    assert renders_planned(project) == 3
    applied(project)
    assert creates(sim) == 3
    check_joined(project, "faq/q3", SENTENCES)
    edited = [SENTENCES[0], "第二句讲清楚了!", SENTENCES[2]]
    write_unisound(project, edited)
    assert renders_planned(project) == 1
    applied(project)
    assert creates(sim) == 4
    check_joined(project, "faq/q3", edited)
    write_unisound(project, SENTENCES)
    assert renders_planned(project) == 0
    applied(project)
    assert creates(sim) == 4
    check_joined(project, "faq/q3", SENTENCES)
    doc = json.loads((project.root / "state/manifest.json").read_text())
    assert list(doc["videos"]) == ["faq/q3"]  # parts are in their video's entry, not videos of their own


@on_both_backends
def test_a_kill_mid_join_keeps_the_old_output_and_the_next_apply_joins_with_no_render(project, sim):
    write_xingyun(project, SEGMENTS[:3])
    applied(project)
    old = (project.root / "outputs/course/lesson.mp4").read_bytes()
    edited = [SEGMENTS[0], "第二段改了。", SEGMENTS[2]]
    write_xingyun(project, edited)
    crashed = project.start("apply", "--auto-approve", RECONCILER_TEST_CRASH_AT="after_join")
    crashed.communicate(timeout=90)
    assert crashed.returncode == -signal.SIGKILL
    assert creates(sim) == 4
    assert (project.root / "outputs/course/lesson.mp4").read_bytes() == old  # still the old one, published
    assert project.manifest()["videos"]["course/lesson"]["sha256"] == hashlib.sha256(old).hexdigest()
    assert renders_planned(project) == 0  # the edited part is rendered: only the join is left
    result = project.apply_when_free()
    assert result.returncode == 0, result.stdout + result.stderr
    assert creates(sim) == 4
    check_joined(project, "course/lesson", edited)
    assert not list((project.root / "state").glob("joins/**/*.mp4"))


def test_a_whole_video_gets_captions_and_a_delete_takes_every_file(project, sim):
    lines = ["  launch/intro:", "    video_name: intro", "    captions: [vtt]", "    segment:",
             "      - text: 欢迎来到发布会。今天我们讲三件事。"]
    _write(project, "xingyun.yaml", XINGYUN_SPEC.format(videos="\n".join(lines)))
    applied(project)
    assert creates(sim) == 1
    entry = project.manifest()["videos"]["launch/intro"]
    assert entry["captions"] == {"vtt": "outputs/launch/intro.vtt"} and "parts" not in entry
    found = cues((project.root / "outputs/launch/intro.vtt").read_text())
    assert "".join(c for _, _, c in found).replace("\n", "") == "欢迎来到发布会。今天我们讲三件事。"
    length = verify.probe(project.root / "outputs/launch/intro.mp4").duration_s
    assert abs(found[-1][1] - length) <= 0.1
    assert project.plan_actions() == {"launch/intro": "noop"}

    write_xingyun(project, SEGMENTS[:2])  # launch/intro goes; a video by parts comes
    applied(project)
    (project.root / "specs/xingyun.yaml").unlink()
    (project.root / "specs/empty.yaml").write_text("videos: {}\n")
    result = project.apply("--allow-mass-delete")
    assert result.returncode == 0, result.stdout + result.stderr
    left = sorted(p.relative_to(project.root).as_posix() for p in (project.root / "outputs").rglob("*")
                  if p.is_file() and ".cache" not in p.parts)
    assert left == [] and project.manifest()["videos"] == {}
    assert not [a for a in project.recorded() if a.startswith(".parts/")]


@on_both_backends
def test_a_damaged_part_is_never_published_or_joined(project, sim):
    write_xingyun(project, SEGMENTS[:3])
    sim.faults({"queue": {"xingyun.download": ["damaged"]}})
    applied(project)  # Xingyun serves its link again: fetched again, no new render
    assert creates(sim) == 3 and len(sim.calls("download", "xingyun")) == 4
    check_joined(project, "course/lesson", SEGMENTS[:3])

    write_unisound(project, SENTENCES)  # a one-shot link: its damaged bytes are kept aside, the part is lost
    sim.faults({"queue": {"unisound.download": ["damaged"]}})
    result = project.apply()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "faq/q3" not in project.manifest()["videos"]
    assert not (project.root / "outputs/faq/q3.mp4").exists()
    doc = project.plan_json()
    (change,) = [c for c in doc["changes"] if c["address"] == "faq/q3"]
    assert change["renders"] == 1  # only the lost part is rendered again
    applied(project)
    check_joined(project, "faq/q3", SENTENCES)
