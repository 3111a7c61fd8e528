"""Captions from the script (docs/parts.md), read back by pysubs2: the text is the script
as a viewer sees it, lines and cues within their limits, no cue across a part boundary,
in order without overlap, timed by what is spoken, the last cue ending with the audio."""

from __future__ import annotations

import re
import unicodedata

import pysubs2
import pytest

from reconciler.media.captions import cues, srt, vtt
from reconciler.media.script import shown_text
from tests.media.helpers import random_script

LONG_CJK = ("数字人视频的每一段都单独渲染，然后在本地按顺序拼接成一个完整的视频文件，"
            "这样修改其中一句话只需要重新渲染那一句，而不是整个视频；字幕也按照脚本自动生成。")
LONG_EN = ("Each part of the video is rendered on its own and joined in order on this machine, "
           "so that changing one sentence costs one sentence and not the whole lesson. "
           "Captions come from the script: no speech model is needed, and timing is exact.")
TAGGED = ('血压单位是<sub alias="毫米汞柱">mmHg</sub>，请拨打<tel>110</tel>或<value>12</value>号窗口。'
          '<mute>500</mute>请您再说一遍<mute>300</mute>或说取消。拼写<letter>AI</letter>，'
          '<phrase>数字人</phrase><word>平台</word><pname>张三</pname><py>重</py><code>2024</code>。')
MIXED = "第一句。第二句!第三句?\nA line with <value>3.14</value> in it, 1,000 words at 12:30.\n最后一行"

PARTS = [(LONG_CJK, 9.64), (LONG_EN, 11.2), (TAGGED, 7.4), (MIXED, 5.0), ("短。", 0.8)]


def parse(text: str, fmt: str) -> list[tuple[int, int, str]]:
    subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    return [(e.start, e.end, e.plaintext) for e in subs]


def squeeze(text: str) -> str:
    return "".join(text.split())


def line_fits(line: str) -> bool:
    cjk = sum(1 for c in line if unicodedata.east_asian_width(c) in "WF" and unicodedata.category(c)[0] != "P")
    other = sum(1 for c in line if unicodedata.east_asian_width(c) not in "WF")
    if not other:
        return cjk <= 20
    if not cjk:
        return other <= 42
    return cjk / 20 + other / 42 <= 1


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_captions_read_back_hold_every_rule(fmt):
    text = (srt if fmt == "srt" else vtt)(cues(PARTS))
    got = parse(text, fmt)
    bounds, t = [], 0
    for _, duration in PARTS:
        bounds.append((round(t * 1000), round((t + duration) * 1000)))
        t += duration
    total_ms = bounds[-1][1]

    per_part: list[list[str]] = [[] for _ in PARTS]
    for start, end, cue_text in got:
        assert start < end
        lines = cue_text.split("\n")
        assert 1 <= len(lines) <= 2 and all(line.strip() for line in lines)
        assert all(line_fits(line) for line in lines), lines
        assert "<" not in cue_text and "alias" not in cue_text  # no TTS tag shows
        inside = [k for k, (a, b) in enumerate(bounds) if a <= start and end <= b]
        assert len(inside) == 1, f"cue {cue_text!r} ({start}-{end} ms) spans a part boundary"
        per_part[inside[0]].append(cue_text)
    for (a_start, a_end, _), (b_start, _, _) in zip(got, got[1:]):
        assert a_end <= b_start  # in order, never overlapping
    assert abs(got[-1][1] - total_ms) <= 100
    for k, (script, _) in enumerate(PARTS):  # each part's cues read its script as shown, in order
        assert squeeze("".join(per_part[k])) == squeeze(shown_text(script))
    for k, (a, _) in enumerate(bounds):  # every part's first cue starts at its boundary (none starts silent)
        assert parse_start(got, per_part[k][0]) == a


def parse_start(got, cue_text):
    return next(start for start, _, text in got if text == cue_text)


def test_the_contract_s_segments_get_one_cue_each_at_exact_boundaries():
    got = cues([("第一句。", 1.37), ("第二句。", 2.25)])
    assert [(c.start_s, c.end_s, c.text) for c in got] == [(0.0, 1.37, "第一句。"), (1.37, 3.62, "第二句。")]
    assert srt(got) == ("1\n00:00:00,000 --> 00:00:01,370\n第一句。\n\n"
                        "2\n00:00:01,370 --> 00:00:03,620\n第二句。\n\n")
    assert vtt(got) == ("WEBVTT\n\n00:00:00.000 --> 00:00:01.370\n第一句。\n\n"
                        "00:00:01.370 --> 00:00:03.620\n第二句。\n\n")


def test_time_within_a_part_follows_the_spoken_characters():
    got = cues([("一。二三四。", 4.0)])
    assert [(c.text, c.start_s, c.end_s) for c in got] == [("一。", 0.0, 1.0), ("二三四。", 1.0, 4.0)]


def test_a_mute_pause_counts_as_time_and_shows_nothing():
    got = cues([("一二，<mute>2000</mute>三四。", 4.0)])
    # 4 characters share the 2 s the pause leaves; the first cue stays up through the pause
    assert [(c.text, c.start_s, c.end_s) for c in got] == [("一二，", 0.0, 3.0), ("三四。", 3.0, 4.0)]


def test_a_sub_shows_its_written_form_and_takes_its_alias_s_time():
    got = cues([('<sub alias="一二三四五六">X</sub>。好。', 7.0)])
    assert [(c.text, c.start_s) for c in got] == [("X。", 0.0), ("好。", 6.0)]


def test_tags_show_their_text():
    got = cues([("请拨打<tel>110</tel>，<value>12</value>号，<letter>AI</letter>，<code>2024</code>。", 5.0)])
    assert "".join(c.text.replace("\n", "") for c in got) == "请拨打110，12号，AI，2024。"


def test_vtt_escapes_what_would_read_as_markup():
    text = vtt(cues([("3<5 & 6>2.", 2.0)]))
    assert "3&lt;5 &amp; 6&gt;2." in text


def test_a_long_cjk_sentence_is_cut_into_cues_of_two_lines_of_twenty():
    got = cues([("这" * 100 + "。", 10.0)])
    assert [len(c.lines) for c in got] == [2, 2, 1]
    assert all(len(line.rstrip("。")) <= 20 for c in got for line in c.lines)
    assert "".join(c.text.replace("\n", "") for c in got) == "这" * 100 + "。"


def test_a_part_with_nothing_spoken_has_no_cue_and_takes_its_time():
    got = cues([("开始。", 1.0), ("<mute>1000</mute>", 1.0), ("结束。", 1.0)])
    assert [(c.text, c.start_s, c.end_s) for c in got] == [("开始。", 0.0, 1.0), ("结束。", 2.0, 3.0)]


@pytest.mark.parametrize("seed", range(12))
def test_random_scripts_in_random_parts_keep_every_rule(seed):
    import random

    rng = random.Random(seed)
    parts = [(random_script(rng), round(rng.uniform(0.5, 40.0), 3)) for _ in range(rng.randint(1, 6))]
    got = cues(parts)
    t, bounds = 0.0, []
    for _, duration in parts:
        bounds.append((t, t + duration))
        t += duration
    for cue in got:
        assert cue.start_s < cue.end_s
        assert 1 <= len(cue.lines) <= 2 and all(line_fits(line) and line.strip() for line in cue.lines)
        assert sum(1 for a, b in bounds if a - 1e-9 <= cue.start_s and cue.end_s <= b + 1e-9) >= 1
    assert all(a.end_s <= b.start_s + 1e-9 for a, b in zip(got, got[1:]))
    spoken_parts = [k for k, (text, _) in enumerate(parts) if any(ch.isalnum() for ch in shown_text(text))]
    shown = squeeze("".join(shown_text(parts[k][0]) for k in spoken_parts))  # a silent part has no cue
    assert squeeze("".join(c.text for c in got)) == shown  # nothing lost, nothing added
    if spoken_parts:
        assert abs(got[-1].end_s - bounds[spoken_parts[-1]][1]) < 1e-6
    # pysubs2 may take a cue's last line of bare digits for the next cue's number (a
    # browser's WebVTT parser does not: a blank line ends a cue), so such a line is not compared
    def comparable(cue_list):
        return [(a, b, re.sub(r"\n\d+$", "", text)) for a, b, text in cue_list]

    exact = comparable([(round(c.start_s * 1000), round(c.end_s * 1000), c.text) for c in got])
    unescaped = vtt(got).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert comparable(parse(unescaped, "vtt")) == exact
    assert comparable(parse(srt(got), "srt")) == exact
