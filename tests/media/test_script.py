"""A script as shown and as split into sentences (docs/parts.md ``split: sentences``):
cut at 。！？!?. and line ends, a TTS tag never cut through, and the tag grammar the
same as the one specs validate with."""

from __future__ import annotations

import pytest

from reconciler.media.script import reading, shown_text, split_sentences, tag_parts
from reconciler.specs import schema
from tests.media.helpers import random_script

SCRIPTS = [
    "第一句。第二句!第三句?",
    '血压<sub alias="毫米汞柱">mmHg</sub>，<mute>300</mute>拨打<tel>110</tel>。',
    "3<5 且 6>2。<value>3.14</value>",
    "<phrase>第一句。第二</phrase>句。第三",
    "<sub alias='x y'>X</sub> <word>平台</word>\n<py>重</py>",
]


def test_the_contract_s_example_is_three_sentences():
    assert split_sentences("第一句。第二句!第三句?") == ["第一句。", "第二句!", "第三句?"]


def test_line_ends_cut_and_blank_lines_vanish():
    assert split_sentences("第一行\n\n  第二行。第三句\n") == ["第一行", "第二行。", "第三句"]


def test_english_sentences_cut_at_full_stops_but_not_inside_numbers_or_names():
    assert split_sentences("It costs 3.14 dollars. See example.com now! Right?") == [
        "It costs 3.14 dollars.", "See example.com now!", "Right?"]


def test_closing_quotes_stay_with_their_sentence():
    assert split_sentences("他说：“走吧。”然后走了。") == ["他说：“走吧。”", "然后走了。"]


def test_a_tag_is_never_cut_through():
    pieces = split_sentences("<phrase>第一句。第二</phrase>句。第三<value>1.5</value>。<sub alias=\"甲。乙\">A</sub>。")
    assert pieces == ["<phrase>第一句。第二</phrase>句。", "第三<value>1.5</value>。", '<sub alias="甲。乙">A</sub>。']
    assert all(schema.tag_problem(p) is None for p in pieces)


def test_a_pause_after_a_sentence_end_is_that_sentence_s():
    assert split_sentences("第二句。<mute>300</mute>第三句!") == ["第二句。<mute>300</mute>", "第三句!"]


def test_a_pause_or_punctuation_alone_stays_with_a_sentence():
    assert split_sentences("第一句。<mute>500</mute>\n第二句。……") == ["第一句。<mute>500</mute>", "第二句。……"]
    assert split_sentences("<mute>200</mute>。开始。") == ["<mute>200</mute>。开始。"]


def test_sentences_joined_again_are_the_script():
    text = "第一句。第二句!<mute>300</mute>第三句?最后"
    assert "".join(split_sentences(text)) == text


def test_the_shown_text_drops_tags_and_shows_a_sub_s_written_form():
    assert shown_text(SCRIPTS[1]) == "血压mmHg，拨打110。"
    assert shown_text(SCRIPTS[2]) == "3<5 且 6>2。3.14"
    assert [u.pause_s for u in reading(SCRIPTS[1]) if u.pause_s] == [0.3]


@pytest.mark.parametrize("text", SCRIPTS)
def test_the_tag_grammar_is_the_one_specs_validate_with(text):
    assert list(tag_parts(text)) == list(schema.tts_parts(text))


@pytest.mark.parametrize("seed", range(20))
def test_random_scripts_split_into_balanced_sentences_that_make_the_script(seed):
    import random

    text = random_script(random.Random(seed))
    pieces = split_sentences(text)
    assert "".join("".join(pieces).split()) == "".join(text.split())  # only spaces and line ends dropped
    for piece in pieces:
        assert schema.tag_problem(piece) is None
        assert piece == piece.strip() and "\n" not in piece
        assert any(u.spoken for u in reading(piece)) or pieces == [piece]  # each piece says something
