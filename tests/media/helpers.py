"""Scripts at random for the caption and sentence tests: CJK words, latin words, numbers,
every kind of TTS tag, and clause, sentence and line marks between them."""

from __future__ import annotations

WORDS = ["数字人", "视频", "渲染", "每一段", "拼接", "字幕", "The", "video", "is", "rendered", "part", "by", "part",
         "supercalifragilisticexpialidocious", "3.14", "1,000", "12:30", "AI", "<value>110</value>",
         '<sub alias="毫米汞柱">mmHg</sub>', "<mute>400</mute>", "<phrase>数字人平台</phrase>", "<tel>12345</tel>"]
MARKS = ["，", "。", "！", "？", ", ", ". ", "; ", "：", "\n", "、", " ", "", "", ""]


def random_script(rng) -> str:
    """Words and marks at random; a latin word is followed by a mark or a space (a run of
    latin letters longer than a line, with nowhere to break, is not a script)."""
    out = []
    for _ in range(rng.randint(1, 60)):
        word, mark = rng.choice(WORDS), rng.choice(MARKS)
        out.append(word + (mark or (" " if word.isascii() else "")))
    return "".join(out)
