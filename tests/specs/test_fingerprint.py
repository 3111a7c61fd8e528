"""The render fingerprint changes exactly when the rendered video would change.

What does not change it: formatting, key order, comments, quoting, moving a video to
another file, rendering it from a template, writing a default out, labels and
prevent_destroy. What does: each field of the request, the provider, the deck bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.specs.fingerprint import canonical_json, fingerprint
from reconciler.specs.loader import load_specs

XINGYUN = """\
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

UNISOUND = """\
videos:
  faq/q1:
    provider: unisound
    text: 这是第<value>110</value>会议室。
    speech_param: {vcn: xuanxuan-plus, speed: 55}
    video_param: {template: yadi_01, watermask: 0, background: 1, backgroundImage: bg.png}
    user_id: demo
"""


def load(tmp_path: Path, files: dict[str, str | bytes], variables=None) -> dict:
    root = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    root.mkdir(exist_ok=True)
    return load_specs(load_config(root), variables, use_cache=False).desired()


def fp(tmp_path: Path, files: dict, address: str, variables=None) -> str:
    return load(tmp_path, files, variables)[address].fingerprint


def test_canonical_json_is_sorted_compact_and_keeps_unicode():
    assert canonical_json({"b": [1, {"d": True, "c": None}], "a": "云知声"}) == \
        '{"a":"云知声","b":[1,{"c":null,"d":true}]}'


def test_fingerprint_is_sha256_of_the_canonical_document():
    request = {"text": "你好", "type": 2}
    doc = canonical_json({"provider": "unisound", "request": request, "ppt_sha256": None})
    assert fingerprint("unisound", request, None) == hashlib.sha256(doc.encode()).hexdigest()


def test_provider_and_ppt_hash_are_part_of_it():
    request = {"look_name": "a"}
    assert fingerprint("xingyun", request, None) != fingerprint("unisound", request, None)
    assert fingerprint("xingyun", request, "0" * 64) != fingerprint("xingyun", request, "1" * 64)
    assert fingerprint("xingyun", request, None) != fingerprint("xingyun", request, "0" * 64)


REFORMATTED = """\
# the same video, written differently
videos:
  "launch/intro":   # quoted address, flow style, other key order
    segment: [{media_url: "https://media.example.com/a.png", text: "为推动我国制造业数字化转型,"},
              {text: 同期将举行多场论坛。}]
    video_name: '发布会开场'
    studio_name: youling_2d_v
    tts_vcn_name: XMOV_HN_TTS__236
    look_name: AM054_Jap_9021_new
    provider: "xingyun"
"""


def test_formatting_order_comments_and_quoting_do_not_change_it(tmp_path):
    assert fp(tmp_path, {"specs/a.yaml": XINGYUN}, "launch/intro") == \
        fp(tmp_path, {"specs/a.yaml": REFORMATTED}, "launch/intro")


def test_moving_a_video_to_another_file_does_not_change_it(tmp_path):
    moved = {"specs/other.yaml": "videos: {}\n", "specs/deep/dir/renamed.yml": XINGYUN}
    assert fp(tmp_path, {"specs/a.yaml": XINGYUN}, "launch/intro") == fp(tmp_path, moved, "launch/intro")


def test_rendering_from_a_template_does_not_change_it(tmp_path):
    template = XINGYUN.replace("AM054_Jap_9021_new", "{{ look }}").replace("同期", "{{ word }}")
    files = {"specs/a.yaml.j2": template, "vars.yaml": "look: AM054_Jap_9021_new\nword: 不是这个\n"}
    assert fp(tmp_path, {"specs/a.yaml": XINGYUN}, "launch/intro") == \
        fp(tmp_path, files, "launch/intro", {"word": "同期"})


def test_defaults_section_versus_inline_does_not_change_it(tmp_path):
    with_defaults = """\
defaults:
  provider: xingyun
  look_name: AM054_Jap_9021_new
  tts_vcn_name: XMOV_HN_TTS__236
videos:
  launch/intro:
    studio_name: youling_2d_v
    video_name: 发布会开场
    segment:
      - {text: "为推动我国制造业数字化转型,", media_url: https://media.example.com/a.png}
      - {text: 同期将举行多场论坛。}
"""
    assert fp(tmp_path, {"specs/a.yaml": XINGYUN}, "launch/intro") == \
        fp(tmp_path, {"specs/a.yaml": with_defaults}, "launch/intro")


@pytest.mark.parametrize("spec, extra", [
    (XINGYUN, "    sub_title: \"on\"\n    if_aigc_mark: true\n"),
    (XINGYUN, "    sub_title: true\n"),
    (UNISOUND, "    speech_param: {vcn: xuanxuan-plus, speed: 55, volume: 50, pitch: 50, bright: 50}\n"),
])
def test_writing_a_default_out_does_not_change_it(tmp_path, spec, extra):
    address = "launch/intro" if spec is XINGYUN else "faq/q1"
    explicit = spec.replace("    speech_param: {vcn: xuanxuan-plus, speed: 55}\n", "") + extra
    assert fp(tmp_path, {"specs/a.yaml": spec}, address) == fp(tmp_path, {"specs/a.yaml": explicit}, address)


def test_labels_and_prevent_destroy_do_not_change_it(tmp_path):
    base = load(tmp_path, {"specs/a.yaml": XINGYUN})["launch/intro"]
    meta = load(tmp_path, {"specs/a.yaml": XINGYUN + "    labels: {owner: me}\n    prevent_destroy: true\n"})
    assert meta["launch/intro"].fingerprint == base.fingerprint
    assert (meta["launch/intro"].labels, meta["launch/intro"].prevent_destroy) == ({"owner": "me"}, True)


@pytest.mark.parametrize("old, new", [
    ("look_name: AM054_Jap_9021_new", "look_name: AM058_10518_new"),
    ("tts_vcn_name: XMOV_HN_TTS__236", "tts_vcn_name: XMOV_HN_TTS__6"),
    ("studio_name: youling_2d_v", "studio_name: bust_chic_art_museum_01"),
    ("video_name: 发布会开场", "video_name: 发布会开场2"),
    ("    video_name: 发布会开场\n", ""),
    ("    segment:", "    sub_title: \"off\"\n    segment:"),
    ("    segment:", "    if_aigc_mark: false\n    segment:"),
    ("text: 同期将举行多场论坛。", "text: 同期将举行多场论坛!"),
    ("https://media.example.com/a.png", "https://media.example.com/b.png"),
    ("        media_url: https://media.example.com/a.png\n", ""),
    ("      - text: 同期将举行多场论坛。\n", ""),
])
def test_each_xingyun_request_field_changes_it(tmp_path, old, new):
    assert old in XINGYUN
    assert fp(tmp_path, {"specs/a.yaml": XINGYUN}, "launch/intro") != \
        fp(tmp_path, {"specs/a.yaml": XINGYUN.replace(old, new)}, "launch/intro")


@pytest.mark.parametrize("old, new", [
    ("<value>110</value>", "<code>110</code>"),
    ("vcn: xuanxuan-plus", "vcn: xiaofeng-plus"),
    ("speed: 55", "speed: 56"),
    ("speed: 55", "speed: 55, volume: 60"),
    ("speed: 55", "speed: 55, pitch: 40"),
    ("speed: 55", "speed: 55, bright: 70"),
    ("template: yadi_01", "template: boxuan_01"),
    ("watermask: 0", "watermask: 1"),
    ("watermask: 0, ", ""),
    ("background: 1", "background: 0"),
    ("backgroundImage: bg.png", "backgroundImage: color_blue.png"),
    ("user_id: demo", "user_id: other"),
    ("    user_id: demo\n", ""),
])
def test_each_unisound_request_field_changes_it(tmp_path, old, new):
    assert old in UNISOUND
    assert fp(tmp_path, {"specs/a.yaml": UNISOUND}, "faq/q1") != \
        fp(tmp_path, {"specs/a.yaml": UNISOUND.replace(old, new)}, "faq/q1")


PPT_SPEC = XINGYUN.replace("""    segment:
      - text: 为推动我国制造业数字化转型,
        media_url: https://media.example.com/a.png
      - text: 同期将举行多场论坛。
""", "    ppt_file: ../decks/launch.pptx\n")


def test_ppt_bytes_change_it_and_the_deck_path_does_not(tmp_path):
    one = fp(tmp_path, {"specs/a.yaml": PPT_SPEC, "decks/launch.pptx": b"deck v1"}, "launch/intro")
    two = fp(tmp_path, {"specs/a.yaml": PPT_SPEC, "decks/launch.pptx": b"deck v2"}, "launch/intro")
    moved = fp(tmp_path, {"specs/a.yaml": PPT_SPEC.replace("../decks/", ""), "specs/launch.pptx": b"deck v1"},
               "launch/intro")
    assert one != two
    assert one == moved


def test_the_request_is_exactly_what_the_vendor_receives(tmp_path):
    videos = load(tmp_path, {"specs/a.yaml": XINGYUN, "specs/b.yaml": UNISOUND,
                             "specs/c.yaml": PPT_SPEC.replace("launch/intro", "launch/deck"),
                             "decks/launch.pptx": b"deck"})
    assert videos["launch/intro"].request == {
        "look_name": "AM054_Jap_9021_new", "tts_vcn_name": "XMOV_HN_TTS__236", "studio_name": "youling_2d_v",
        "sub_title": "on", "if_aigc_mark": True, "video_name": "发布会开场",
        "segment": [{"text": "为推动我国制造业数字化转型,", "media_url": "https://media.example.com/a.png"},
                    {"text": "同期将举行多场论坛。"}]}
    assert videos["faq/q1"].request == {
        "text": "这是第<value>110</value>会议室。",
        "speech_param": {"vcn": "xuanxuan-plus", "speed": 55, "volume": 50, "pitch": 50, "bright": 50},
        "video_param": {"template": "yadi_01", "watermask": 0, "background": 1, "backgroundImage": "bg.png"},
        "type": 2, "user_id": "demo"}
    deck = videos["launch/deck"]
    assert "segment" not in deck.request and "ppt_file" not in deck.request
    assert deck.ppt_sha256 == hashlib.sha256(b"deck").hexdigest()
    assert deck.fingerprint == fingerprint("xingyun", deck.request, deck.ppt_sha256)
    json.dumps(deck.request)  # plain JSON data only
