"""`split` and `captions` (docs/parts.md): each part its own fingerprint, the video's made
of its parts', and a video without `split` exactly as before (no re-render for anyone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.errors import SpecErrors
from reconciler.specs.fingerprint import fingerprint
from reconciler.specs.loader import load_specs
from reconciler.specs.parts import part_requests

HEAD = """\
videos:
  course/lesson:
    provider: xingyun
    look_name: AM054_Jap_9021_new
    tts_vcn_name: XMOV_HN_TTS__236
    studio_name: youling_2d_v
"""
SEGMENTS = HEAD + """\
    split: segments
    segment:
      - {text: 第一句。, media_url: https://media.example.com/1.png}
      - {text: 第二句。第三句。}
      - {text: 第四句。}
"""
UNISOUND = """\
videos:
  faq/q3:
    provider: unisound
    split: sentences
    text: 第一句。第二句!第三句?
    speech_param: {vcn: xuanxuan-plus}
    video_param: {template: yadi_01, background: 1}
"""
# computed by the code before `split` existed: a video without it must keep them
WHOLE_XINGYUN = """\
videos:
  launch/intro:
    provider: xingyun
    look_name: AM054_Jap_9021_new
    tts_vcn_name: XMOV_HN_TTS__236
    studio_name: youling_2d_v
    video_name: 发布会开场
    segment:
      - text: 为推动我国制造业数字化转型,
        media_url: https://media.example.com/a.png
      - text: 同期将举行多场论坛。
"""
WHOLE_UNISOUND = """\
videos:
  faq/q1:
    provider: unisound
    text: 这是第<value>110</value>会议室。
    speech_param: {vcn: xuanxuan-plus, speed: 55}
    video_param: {template: yadi_01, watermask: 0, background: 1, backgroundImage: bg.png}
    user_id: demo
"""


def load(tmp_path: Path, text: str, name: str = "a.yaml") -> dict:
    root = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / name).write_text(text, encoding="utf-8")
    return load_specs(load_config(root), None, use_cache=False).desired()


def test_a_video_without_split_keeps_its_fingerprint_and_request(tmp_path):
    x = load(tmp_path, WHOLE_XINGYUN)["launch/intro"]
    u = load(tmp_path, WHOLE_UNISOUND)["faq/q1"]
    assert x.fingerprint == "0be850a9017618f5ac78acf311f54cddb08c589f3d2d5cde2312534cf22fee0f"
    assert u.fingerprint == "763cdf0c7d034c263cf6dddfb48e9fc58ee37c6dd120f4e6378c9dd2980ad01f"
    assert "split" not in x.request and "captions" not in x.request
    assert (x.split, x.parts, x.captions) == ("none", (), ())
    with_captions = load(tmp_path, WHOLE_XINGYUN + "    captions: [vtt, srt]\n")["launch/intro"]
    assert with_captions.fingerprint == x.fingerprint and with_captions.request == x.request
    assert with_captions.captions == ("srt", "vtt")


def test_each_segment_is_a_part_with_the_fingerprint_of_a_one_segment_video(tmp_path):
    video = load(tmp_path, SEGMENTS)["course/lesson"]
    bodies = part_requests(video.provider, video.request, video.split)
    assert [b["segment"] for b in bodies] == [[{"text": "第一句。", "media_url": "https://media.example.com/1.png"}],
                                              [{"text": "第二句。第三句。"}], [{"text": "第四句。"}]]
    assert [fp for fp, _ in video.parts] == [fingerprint("xingyun", b, None) for b in bodies]
    assert [chars for _, chars in video.parts] == [4, 8, 4]


def test_one_edited_segment_changes_one_part_and_the_video(tmp_path):
    before = load(tmp_path, SEGMENTS)["course/lesson"]
    after = load(tmp_path, SEGMENTS.replace("第四句", "第4句"))["course/lesson"]
    changed = [i for i, (a, b) in enumerate(zip(before.parts, after.parts)) if a != b]
    assert changed == [2] and before.fingerprint != after.fingerprint
    captions = load(tmp_path, SEGMENTS + "    captions: [srt]\n")["course/lesson"]
    assert captions.fingerprint == before.fingerprint


def test_sentences_cut_a_unisound_script_and_xingyun_segments(tmp_path):
    video = load(tmp_path, UNISOUND)["faq/q3"]
    assert [b["text"] for b in part_requests(video.provider, video.request, video.split)] == \
        ["第一句。", "第二句!", "第三句?"]
    xingyun = load(tmp_path, SEGMENTS.replace("split: segments", "split: sentences"))["course/lesson"]
    bodies = part_requests(xingyun.provider, xingyun.request, xingyun.split)
    assert [b["segment"][0]["text"] for b in bodies] == ["第一句。", "第二句。", "第三句。", "第四句。"]
    assert bodies[0]["segment"][0]["media_url"] == "https://media.example.com/1.png"


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        load(tmp_path, text)
    return [str(d) for d in caught.value.diagnostics]


def test_wrong_split_and_captions_are_errors_with_their_lines_all_at_once(tmp_path):
    text = UNISOUND.replace("split: sentences", "split: segments") + """\
  faq/q4:
    provider: unisound
    split: words
    captions: [srt, ass]
    text: 你好。
    speech_param: {vcn: xuanxuan-plus}
    video_param: {template: yadi_01, background: 1}
"""
    found = errors(tmp_path, text)
    assert any(e.startswith("specs/a.yaml:4: videos.faq/q3.split: split: segments is for Xingyun") for e in found)
    assert any(e.startswith("specs/a.yaml:10: videos.faq/q4.split:") and "'none', 'segments' or 'sentences'" in e
               for e in found)
    assert any(e.startswith("specs/a.yaml:11: videos.faq/q4.captions[1]:") for e in found)


def test_a_deck_cannot_be_split(tmp_path):
    text = HEAD + "    split: segments\n    ppt_file: ../d.pptx\n"
    root = tmp_path / "deck"
    (root / "specs").mkdir(parents=True)
    (root / "d.pptx").write_bytes(b"PK")
    (root / "specs" / "a.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load_specs(load_config(root), None, use_cache=False).desired()
    assert any("specs/a.yaml:7: videos.course/lesson.split: split: segments needs a `segment` list" in str(d)
               for d in caught.value.diagnostics)
