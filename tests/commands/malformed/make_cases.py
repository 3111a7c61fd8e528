"""Regenerates the fixture projects tests/commands/malformed/<case>/ (their files are committed).

Each case is a tiny project (spec files, maybe vars.yaml or reconciler.yaml) that is
wrong in exactly one way, plus ``expected.txt``: substrings, one per line, that the
error output of ``reconciler validate`` and ``reconciler plan`` must contain.
``tests/test_malformed.py`` copies each case into a temp dir (next to an
``outside.pptx`` that lies outside the project) and runs the real CLI on it.
Edit CASES below and run ``python tests/commands/malformed/make_cases.py``.
"""
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
XY = """defaults:
  provider: xingyun
  look_name: AM054_Jap_9021_new
  tts_vcn_name: XMOV_HN_TTS__236
  studio_name: youling_2d_v
videos:
"""
UNI = """defaults:
  provider: unisound
  speech_param: {vcn: xuanxuan-plus}
  video_param: {template: yadi_01, background: 1}
videos:
"""
BOMB = 'bomb:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n  a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n  a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n  a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n  a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\n  a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]\n  a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]\n  a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]\n  a8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]\n'
MERGE = 'bomb:\n  m0: &m0 {k0: 1}\n  m1: &m1 {<<: [*m0, *m0], k1: 1}\n  m2: &m2 {<<: [*m1, *m1], k2: 1}\n  m3: &m3 {<<: [*m2, *m2], k3: 1}\n  m4: &m4 {<<: [*m3, *m3], k4: 1}\n  m5: &m5 {<<: [*m4, *m4], k5: 1}\n  m6: &m6 {<<: [*m5, *m5], k6: 1}\n  m7: &m7 {<<: [*m6, *m6], k7: 1}\n  m8: &m8 {<<: [*m7, *m7], k8: 1}\n  m9: &m9 {<<: [*m8, *m8], k9: 1}\n  m10: &m10 {<<: [*m9, *m9], k10: 1}\n  m11: &m11 {<<: [*m10, *m10], k11: 1}\n  m12: &m12 {<<: [*m11, *m11], k12: 1}\n  m13: &m13 {<<: [*m12, *m12], k13: 1}\n  m14: &m14 {<<: [*m13, *m13], k14: 1}\n  m15: &m15 {<<: [*m14, *m14], k15: 1}\n  m16: &m16 {<<: [*m15, *m15], k16: 1}\n  m17: &m17 {<<: [*m16, *m16], k17: 1}\n  m18: &m18 {<<: [*m17, *m17], k18: 1}\n  m19: &m19 {<<: [*m18, *m18], k19: 1}\n  m20: &m20 {<<: [*m19, *m19], k20: 1}\n  m21: &m21 {<<: [*m20, *m20], k21: 1}\n  m22: &m22 {<<: [*m21, *m21], k22: 1}\n  m23: &m23 {<<: [*m22, *m22], k23: 1}\n  m24: &m24 {<<: [*m23, *m23], k24: 1}\n  m25: &m25 {<<: [*m24, *m24], k25: 1}\n  m26: &m26 {<<: [*m25, *m25], k26: 1}\n  m27: &m27 {<<: [*m26, *m26], k27: 1}\n  m28: &m28 {<<: [*m27, *m27], k28: 1}\n  m29: &m29 {<<: [*m28, *m28], k29: 1}\n  m30: &m30 {<<: [*m29, *m29], k30: 1}\n  m31: &m31 {<<: [*m30, *m30], k31: 1}\n  m32: &m32 {<<: [*m31, *m31], k32: 1}\n  m33: &m33 {<<: [*m32, *m32], k33: 1}\n  m34: &m34 {<<: [*m33, *m33], k34: 1}\n  m35: &m35 {<<: [*m34, *m34], k35: 1}\n  m36: &m36 {<<: [*m35, *m35], k36: 1}\n  m37: &m37 {<<: [*m36, *m36], k37: 1}\n  m38: &m38 {<<: [*m37, *m37], k38: 1}\n  m39: &m39 {<<: [*m38, *m38], k39: 1}\n'
ANCHORS = 'x-anchors:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n  a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n  a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n  a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n  a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\n'
PPTX = b"PK\x03\x04 not really a deck, but bytes to hash\n"

CASES = {
 "yaml_unclosed_bracket": ({"specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}\n  a/two:\n    segment: [{text: 再见}]\n"}, ["specs/a.yaml:9:", "invalid YAML"]),
 "yaml_tab_indent": ({"specs/a.yaml": XY + "  a/one:\n\tsegment: [{text: 你好}]\n"}, ["specs/a.yaml:8:", "invalid YAML"]),
 "duplicate_field": ({"specs/a.yaml": XY + "  a/one:\n    video_name: x\n    segment: [{text: 你好}]\n    video_name: y\n"}, ["specs/a.yaml:10:", "duplicate key 'video_name'"]),
 "duplicate_address_same_file": ({"specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n  a/one:\n    segment: [{text: 再见}]\n"}, ["specs/a.yaml:9:", "duplicate key 'a/one'"]),
 "duplicate_address_across_files": ({"specs/a.yaml": XY + "  shared/intro:\n    segment: [{text: 你好}]\n",
                                     "specs/sub/b.yaml": UNI + "  shared/intro:\n    text: 你好\n"},
                                    ["specs/a.yaml:7: videos.shared/intro: duplicate address", "specs/sub/b.yaml:6"]),
 "file_not_a_mapping": ({"specs/a.yaml": "- provider: xingyun\n- text: hi\n"}, ["specs/a.yaml:1:", "must be a mapping"]),
 "unknown_top_level_key": ({"specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\nvideo:\n  a/two: {}\n"}, ["specs/a.yaml:9: video: unknown top-level key"]),
 "unknown_field": ({"specs/a.yaml": XY + "  a/one:\n    look_nam: AM058_10518_new\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:8: videos.a/one.look_nam: unknown field"]),
 "unknown_field_in_segment": ({"specs/a.yaml": XY + "  a/one:\n    segment:\n      - text: 你好\n        media: https://x.example/a.png\n"}, ["specs/a.yaml:10: videos.a/one.segment[0].media: unknown field"]),
 "segment_not_a_list": ({"specs/a.yaml": XY + "  a/one:\n    segment: 你好\n"}, ["specs/a.yaml:8: videos.a/one.segment:"]),
 "missing_required_field": ({"specs/a.yaml": "videos:\n  a/one:\n    provider: xingyun\n    look_name: AM054_Jap_9021_new\n    tts_vcn_name: XMOV_HN_TTS__236\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:2: videos.a/one.studio_name: required field is missing"]),
 "missing_provider": ({"specs/a.yaml": "videos:\n  a/one:\n    text: 你好\n"}, ["specs/a.yaml:2: videos.a/one.provider: required field is missing"]),
 "unknown_provider": ({"specs/a.yaml": "videos:\n  a/one:\n    provider: tencent\n    text: 你好\n"}, ["specs/a.yaml:3: videos.a/one.provider: must be one of: xingyun, unisound"]),
 "sub_title_bad_value": ({"specs/a.yaml": XY + "  a/one:\n    sub_title: maybe\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:8: videos.a/one.sub_title:"]),
 "if_aigc_mark_yes_is_a_string": ({"specs/a.yaml": XY + "  a/one:\n    if_aigc_mark: yes\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:8: videos.a/one.if_aigc_mark:", "valid boolean"]),
 "segment_blank_text": ({"specs/a.yaml": XY + "  a/one:\n    segment:\n      - text: 你好\n      - text: \"   \"\n"}, ["specs/a.yaml:10: videos.a/one.segment[1].text: must not be empty or blank"]),
 "segment_and_ppt_file": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: deck.pptx\n    segment: [{text: 你好}]\n", "specs/deck.pptx": PPTX}, ["specs/a.yaml:7: videos.a/one: give exactly one of `segment` or `ppt_file`"]),
 "neither_segment_nor_ppt": ({"specs/a.yaml": XY + "  a/one:\n    video_name: 空的\n"}, ["specs/a.yaml:7: videos.a/one: give exactly one of"]),
 "ppt_escapes_project": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: ../../outside.pptx\n"}, ["specs/a.yaml:8: videos.a/one.ppt_file:", "outside the project"]),
 "ppt_symlink_outside": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: ../decks/evil.pptx\n", "decks/evil.pptx": ("symlink", "../../outside.pptx")}, ["specs/a.yaml:8: videos.a/one.ppt_file:", "outside the project"]),
 "ppt_missing": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: ../decks/missing.pptx\n"}, ["specs/a.yaml:8: videos.a/one.ppt_file:", "no such file (decks/missing.pptx)"]),
 "ppt_not_pptx": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: ../decks/deck.pdf\n", "decks/deck.pdf": PPTX}, ["specs/a.yaml:7: videos.a/one: ppt_file must name a .pptx file"]),
 "ppt_absolute_path": ({"specs/a.yaml": XY + "  a/one:\n    ppt_file: /etc/deck.pptx\n"}, ["specs/a.yaml:8: videos.a/one.ppt_file:", "relative to the spec file"]),
 "unisound_text_too_long": ({"specs/a.yaml": UNI + "  a/one:\n    text: " + "长" * 5001 + "\n"}, ["specs/a.yaml:7: videos.a/one.text:", "at most 5000 characters"]),
 "unisound_text_empty": ({"specs/a.yaml": UNI + "  a/one:\n    text: \"\"\n"}, ["specs/a.yaml:7: videos.a/one.text:", "at least 1 character"]),
 "unisound_misspelt_closing_tag": ({"specs/a.yaml": UNI + "  a/one:\n    text: 这是第<value>110</valeu>会议室。\n"}, ["specs/a.yaml:7: videos.a/one.text: TTS tag <value> is never closed"]),
 "unisound_background_missing": ({"specs/a.yaml": UNI.replace(", background: 1", "") + "  a/one:\n    text: 你好\n"}, ["specs/a.yaml:6: videos.a/one.video_param.background: required field is missing"]),
 "unisound_unclosed_tag": ({"specs/a.yaml": UNI + "  a/one:\n    text: 这是第<value>110会议室。\n"}, ["specs/a.yaml:7: videos.a/one.text: TTS tag <value> is never closed"]),
 "unisound_misnested_tags": ({"specs/a.yaml": UNI + "  a/one:\n    text: <word>乒乓<value>1</word></value>\n"}, ["specs/a.yaml:7: videos.a/one.text: unbalanced TTS tag '</word>'"]),
 "unisound_sub_closed_by_mute": ({"specs/a.yaml": UNI + "  a/one:\n    text: 单位是<sub alias=\"毫米汞柱\">mmHg</mute>\n"}, ["specs/a.yaml:7: videos.a/one.text: unbalanced TTS tag '</mute>'"]),
 "unisound_sub_without_alias": ({"specs/a.yaml": UNI + "  a/one:\n    text: 单位是<sub>mmHg</sub>\n"}, ["specs/a.yaml:7: videos.a/one.text:", "alias"]),
 "unisound_speed_out_of_range": ({"specs/a.yaml": UNI + "  a/one:\n    text: 你好\n    speech_param: {vcn: xiaofeng-plus, speed: 101}\n"}, ["specs/a.yaml:8: videos.a/one.speech_param.speed:", "less than or equal to 100"]),
 "unisound_bright_from_defaults": ({"specs/a.yaml": "defaults:\n  provider: unisound\n  speech_param: {vcn: xuanxuan-plus, bright: 40}\n  video_param: {template: yadi_01, background: 1}\nvideos:\n  a/one:\n    text: 你好\n"}, ["specs/a.yaml:3: videos.a/one.speech_param.bright:", "(from defaults)"]),
 "unisound_speed_is_a_string": ({"specs/a.yaml": UNI + "  a/one:\n    text: 你好\n    speech_param: {vcn: xiaofeng-plus, speed: \"55\"}\n"}, ["specs/a.yaml:8: videos.a/one.speech_param.speed:", "valid integer"]),
 "unisound_type_written": ({"specs/a.yaml": UNI + "  a/one:\n    text: 你好\n    type: 2\n"}, ["specs/a.yaml:8: videos.a/one.type:", "always 2"]),
 "unisound_missing_vcn": ({"specs/a.yaml": "videos:\n  a/one:\n    provider: unisound\n    text: 你好\n    speech_param: {speed: 50}\n    video_param: {template: yadi_01, background: 1}\n"}, ["specs/a.yaml:5: videos.a/one.speech_param.vcn: required field is missing"]),
 "unisound_watermask_two": ({"specs/a.yaml": UNI + "  a/one:\n    text: 你好\n    video_param: {template: yadi_01, background: 1, watermask: 2}\n"}, ["specs/a.yaml:8: videos.a/one.video_param.watermask:"]),
 "xingyun_field_on_unisound": ({"specs/a.yaml": UNI + "  a/one:\n    text: 你好\n    look_name: AM054_Jap_9021_new\n"}, ["specs/a.yaml:8: videos.a/one.look_name: unknown field"]),
 "labels_not_strings": ({"specs/a.yaml": XY + "  a/one:\n    labels: {owner: 5}\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:8: videos.a/one.labels.owner:", "valid string"]),
 "address_absolute": ({"specs/a.yaml": XY + "  /abs/intro:\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:7: videos./abs/intro: invalid address"]),
 "address_dotdot": ({"specs/a.yaml": XY + "  a/../b:\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:7: videos.a/../b: invalid address"]),
 "address_reserved_by_outputs": ({"specs/a.yaml": XY + "  .cache/0123abcd:\n    segment: [{text: 你好}]\n  launch/.intro:\n    segment: [{text: 再见}]\n"},
                                 ["specs/a.yaml:7: videos..cache/0123abcd: invalid address: its part '.cache' starts with '.'",
                                  "specs/a.yaml:9: videos.launch/.intro: invalid address: its part '.intro' starts with '.'",
                                  "the render cache .cache/", "2 errors in specs"]),
 "address_bad_characters": ({"specs/a.yaml": XY + "  \"介绍 视频\":\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:7:", "invalid address"]),
 "address_too_long": ({"specs/a.yaml": XY + "  " + "a" * 201 + ":\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:7:", "invalid address"]),
 "defaults_not_a_mapping": ({"specs/a.yaml": "defaults: [provider, xingyun]\nvideos:\n  a/one: {}\n"}, ["specs/a.yaml:1: defaults: must be a mapping"]),
 "video_not_a_mapping": ({"specs/a.yaml": XY + "  a/one: 你好\n"}, ["specs/a.yaml:7: videos.a/one: a video must be a mapping"]),
 "explicit_python_tag": ({"specs/a.yaml": XY + "  a/one:\n    video_name: !!python/object:os.system echo\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:8:", "could not determine a constructor"]),
 "not_utf8": ({"specs/a.yaml": XY.encode() + "  a/one:\n    segment: [{text: 你好}]\n".encode("gbk")}, ["specs/a.yaml:8:", "not valid UTF-8"]),
 "jinja_syntax_error": ({"specs/a.yaml.j2": XY + "{% for x in %}\n  a/{{ x }}:\n    segment: [{text: 你好}]\n{% endfor %}\n"}, ["specs/a.yaml.j2:7:", "template syntax error"]),
 "jinja_undefined_variable": ({"specs/a.yaml.j2": XY + "  a/one:\n    video_name: \"{{ title }}\"\n    segment: [{text: 你好}]\n", "vars.yaml": "brand: 星云\n"}, ["specs/a.yaml.j2:8:", "undefined variable", "'title' is undefined"]),
 "jinja_sandbox_escape": ({"specs/a.yaml.j2": XY + "  a/one:\n    video_name: \"{{ ''.__class__.__mro__ }}\"\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml.j2:8:", "sandbox"]),
 "jinja_sandbox_subclasses": ({"specs/a.yaml.j2": XY + "  a/one:\n    segment: [{text: \"{{ cycler.__init__.__globals__.os }}\"}]\n"}, ["specs/a.yaml.j2:8:"]),
 "jinja_renders_bad_yaml": ({"specs/a.yaml.j2": XY + "{% for n in names %}\n  a/{{ n }}:\n    segment: [{text: {{ n }}}]\n{% endfor %}\n", "vars.yaml": "names: [one, 'two: three']\n"}, ["specs/a.yaml.j2:", "invalid YAML", "rendered line"]),
 "jinja_renders_invalid_video": ({"specs/a.yaml.j2": XY + "{% for n in names %}\n  a/{{ n }}:\n    sub_title: {{ mode }}\n    segment: [{text: 你好}]\n{% endfor %}\n", "vars.yaml": "names: [one, two]\nmode: sometimes\n"}, ["specs/a.yaml.j2:8: videos.a/one.sub_title:", "specs/a.yaml.j2:11: videos.a/two.sub_title:", "(rendered line 8: sub_title: sometimes)"]),
 "vars_invalid_yaml": ({"vars.yaml": "brand: 星云\nnames: [one, two\n", "specs/a.yaml.j2": XY + "  a/one:\n    video_name: \"{{ brand }}\"\n    segment: [{text: 你好}]\n"}, ["vars.yaml:3:", "invalid YAML"]),
 "vars_not_a_mapping": ({"vars.yaml": "- one\n- two\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["vars.yaml:1:", "must be a mapping"]),
 "config_unknown_key": ({"reconciler.yaml": "specs: specs\nparalelism: 4\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["reconciler.yaml:2:", "paralelism"]),
 "config_invalid_yaml": ({"reconciler.yaml": "specs: specs\nproviders: {xingyun: {endpoint: sim}\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["reconciler.yaml:3:", "invalid YAML"]),
 "config_missing_vars_file": ({"reconciler.yaml": "vars: [vars/common.yaml]\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["reconciler.yaml:1:", "vars/common.yaml"]),
 "errors_in_several_files": ({"specs/a.yaml": XY + "  a/one:\n    sub_title: sometimes\n    segment: [{text: 你好}]\n",
                              "specs/b/b.yaml": UNI + "  b/one:\n    text: <value>坏</foo>\n  b/two:\n    text: 好\n    speech_param: {vcn: x, pitch: -1}\n",
                              "specs/c.yaml.j2": XY + "  c/one:\n    video_name: \"{{ missing }}\"\n    segment: [{text: 你好}]\n",
                              "specs/d.yaml": "videos: [oops\n"},
                             ["specs/a.yaml:8: videos.a/one.sub_title:", "specs/b/b.yaml:7: videos.b/one.text:",
                              "specs/b/b.yaml:10: videos.b/two.speech_param.pitch:", "specs/c.yaml.j2:8:", "specs/d.yaml:2:",
                              "5 errors in specs"]),
 # issue 9 section 5: bad input of every kind fails with file:line and changes nothing
 "output_paths_collide_file_and_folder": ({"specs/a.yaml": XY + "  c:\n    segment: [{text: 你好}]\n",
                                           "specs/b.yaml": XY + "  c.mp4/x:\n    segment: [{text: 再见}]\n"},
                                          ["specs/a.yaml:7: videos.c: output path collides with c.mp4/x (specs/b.yaml:7)",
                                           "specs/b.yaml:7: videos.c.mp4/x: output path collides with c (specs/a.yaml:7)"]),
 "output_paths_differ_only_in_case": ({"specs/a.yaml": XY + "  launch/Intro:\n    segment: [{text: 你好}]\n  launch/intro:\n    segment: [{text: 再见}]\n"},
                                      ["specs/a.yaml:7: videos.launch/Intro: output path collides with launch/intro (specs/a.yaml:9)",
                                       "differ only in letter case"]),
 "yaml_alias_bomb": ({"specs/a.yaml": BOMB + XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:", "alias bomb"]),
 "yaml_merge_key_bomb": ({"specs/a.yaml": MERGE + XY + "  a/one:\n    segment: [{text: 你好}]\n"}, ["specs/a.yaml:", "alias bomb"]),
 "defaults_merge_bomb": ({"specs/a.yaml": ANCHORS + XY.replace("videos:\n", "  segment: *a4\nvideos:\n")
                          + "".join(f"  a/v{i}:\n    video_name: v{i}\n" for i in range(20))},
                         ["specs/a.yaml:7: defaults: merged under the videos, defaults and aliases expand to"]),
 "jinja_nested_loops": ({"specs/a.yaml.j2": XY + "{% for i in range(100000) %}\n{% for j in range(100000) %}\n{% endfor %}\n{% endfor %}\n"},
                        ["specs/a.yaml.j2:8:", "template does too much work"]),
 "jinja_doubling_string": ({"specs/a.yaml.j2": XY + "{% set ns = namespace(s='ab') %}\n{% for i in range(64) %}\n{% set ns.s = ns.s ~ ns.s %}\n{% endfor %}\n"},
                           ["specs/a.yaml.j2:9:", "template does too much work"]),
 "jinja_macro_calls_itself_twice": ({"specs/a.yaml.j2": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}\n" + XY + "{{ f(60) }}\n"},
                                    ["specs/a.yaml.j2:1:", "template does too much work"]),
 "config_not_utf8": ({"reconciler.yaml": "specs: specs\nparallelism: 4\n".encode() + "# 注释\n".encode("gbk"), "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"},
                     ["reconciler.yaml:3:", "not valid UTF-8"]),
 "config_duplicate_key": ({"reconciler.yaml": "specs: specs\nparallelism: 4\nparallelism: 8\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"},
                          ["reconciler.yaml:3:", "duplicate key 'parallelism'"]),
 "config_not_a_finite_number": ({"reconciler.yaml": "max_delete_share: .nan\nproviders:\n  xingyun: {timeout: .inf}\n", "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"},
                                ["reconciler.yaml:1: max_delete_share: must be a finite number", "reconciler.yaml:3: providers.xingyun.timeout: must be a finite number"]),
 "config_alias_bomb": ({"reconciler.yaml": BOMB.replace("bomb:", "labels:"), "specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n"},
                       ["reconciler.yaml:", "alias bomb"]),
 "vars_not_utf8": ({"vars.yaml": "brand: 星云\n".encode() + "title: 标题\n".encode("gbk"), "specs/a.yaml.j2": XY + "  a/one:\n    video_name: \"{{ brand }}\"\n    segment: [{text: 你好}]\n"},
                   ["vars.yaml:2:", "not valid UTF-8"]),
}


def main():
    for old in ROOT.iterdir():
        if old.is_dir() and not old.name.startswith(("_", ".")):
            shutil.rmtree(old)
    for name, (files, expected) in CASES.items():
        case = ROOT / name
        for rel, content in files.items():
            path = case / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, tuple):
                os.symlink(content[1], path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        (case / "expected.txt").write_text("\n".join(expected) + "\n", encoding="utf-8")
    print(len(CASES), "cases")


if __name__ == "__main__":
    main()
