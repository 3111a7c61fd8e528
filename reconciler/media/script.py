"""A Unisound script as a viewer sees it and a voice speaks it, and cut into sentences.

Why a module of its own: captions show the script without its TTS tags while timing it
by what is spoken, and ``split: sentences`` (docs/parts.md) cuts a script into one render
per sentence without cutting through a tag. Both need the same reading of the tags:

- ``<value> <code> <tel> <py> <pname> <word> <phrase> <letter>``: their text is shown
  and spoken;
- ``<mute>300</mute>``: nothing shown, a pause of 300 ms;
- ``<sub alias="A">B</sub>``: B is shown, A is spoken (so B takes A's time).

The tag grammar is the one of ``specs.schema`` (a ``<`` that opens no known tag is
text: ``3<5``), written again here because specs sit above this layer;
``tests/media/test_script.py`` holds the two readings equal.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

TTS_TAGS = ("value", "code", "tel", "py", "pname", "word", "phrase", "letter", "mute", "sub")
TAG = re.compile(r"<(/?)(" + "|".join(TTS_TAGS) + r")(?=[\s/>])([^<>]*)>")
ALIAS = re.compile(r"""alias\s*=\s*("[^"]*"|'[^']*')""")
_DIGITS = re.compile(r"\d+")

SENTENCE_ENDS = "。！？!?."
CLOSERS = "”’」』）)]》〉\"'"  # a closing quote or bracket stays with the sentence it ends


class Unit(NamedTuple):
    """One step of a script: a shown character with the spoken length it takes (in
    characters), a pause (``pause_s``, nothing shown), or a line end (``shown == "\\n"``)."""

    shown: str
    spoken: float
    pause_s: float = 0.0


def tag_parts(text: str):
    """``text`` cut at its TTS tags: ``(None, str)`` for text, ``(tag, attrs)`` for
    ``<tag attrs>``, ``("/" + tag, "")`` for ``</tag>`` (``specs.schema`` checks tags with it; the gallery shows them)."""
    at = 0
    for m in TAG.finditer(text):
        if m.start() > at:
            yield None, text[at:m.start()]
        yield ("/" if m.group(1) else "") + m.group(2), m.group(3).strip()
        at = m.end()
    if at < len(text):
        yield None, text[at:]


def spoken_weight(char: str) -> int:
    """1 for a character a voice says (a letter, a digit, a CJK character), else 0."""
    return 1 if unicodedata.category(char)[0] in "LN" else 0


def reading(text: str) -> list[Unit]:
    """The script ``text`` as units: what is shown, what is spoken, the pauses."""
    units: list[Unit] = []
    stack: list[tuple[str, str, int]] = []  # (tag, attrs, index of its first unit)
    mute_text: list[str] = []
    for tag, value in tag_parts(text):
        if tag is None:
            if any(name == "mute" for name, _, _ in stack):
                mute_text.append(value)
            else:
                units.extend(Unit(c, 0.0) if c == "\n" else Unit(c, float(spoken_weight(c))) for c in value)
        elif not tag.startswith("/"):
            stack.append((tag, value, len(units)))
            if tag == "mute":
                mute_text = []
        elif stack:
            name, attrs, first = stack.pop()
            if name == "mute":
                digits = _DIGITS.search("".join(mute_text))
                units.append(Unit("", 0.0, int(digits.group()) / 1000 if digits else 0.0))
            elif name == "sub":
                _speak_as(units, first, _alias(attrs))
    return units


def _alias(attrs: str) -> str:
    m = ALIAS.fullmatch(attrs.strip())
    return m.group(1)[1:-1] if m else ""


def _speak_as(units: list[Unit], first: int, alias: str) -> None:
    """The units from ``first`` on are shown as written but spoken as ``alias``."""
    weight = float(sum(spoken_weight(c) for c in alias))
    shown = [i for i in range(first, len(units)) if units[i].shown and units[i].shown != "\n"]
    for i in range(first, len(units)):
        units[i] = units[i]._replace(spoken=0.0)
    if shown:
        for i in shown:
            units[i] = units[i]._replace(spoken=weight / len(shown))
    elif weight:
        units.append(Unit("", weight))


def shown_text(text: str) -> str:
    """The script as a viewer reads it: tags removed, ``<sub>`` shows its written form."""
    return "".join(u.shown for u in reading(text))


def ends_sentence(text: str, i: int) -> bool:
    """Whether the character at ``i`` ends a sentence: 。！？!? always, and '.' unless a
    letter or digit follows (3.14, example.com are not sentence ends)."""
    char = text[i]
    if char not in SENTENCE_ENDS:
        return False
    if char == ".":
        return i + 1 >= len(text) or not text[i + 1].isalnum()
    return True


def split_sentences(text: str) -> list[str]:
    """``text`` cut after each sentence end (。！？!?. with any closing quote) and at
    line ends, never inside a TTS tag (a sentence end or line end inside a tag does not
    cut: the tag is read as one). A ``<mute>`` right after a sentence end stays with it.
    Pieces are stripped; one with nothing spoken (a lone pause or punctuation) stays with
    the sentence before it (or after it, at the start)."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0

    def cut() -> None:
        pieces.append("".join(current))
        current.clear()

    for tag, value in _raw_parts(text):
        if tag is not None:
            current.append(value)
            depth = max(0, depth + (-1 if tag.startswith("/") else 1))
            continue
        i = 0
        while i < len(value):
            char = value[i]
            if char == "\n":
                if depth == 0:
                    cut()
                else:
                    current.append(char)
                i += 1
                continue
            current.append(char)
            if ends_sentence(value, i):
                while i + 1 < len(value) and (value[i + 1] in CLOSERS or value[i + 1] in SENTENCE_ENDS):
                    i += 1
                    current.append(value[i])
                if depth == 0:
                    cut()
            i += 1
    cut()
    return _merge_silent(_pauses_after([p.strip() for p in pieces if p.strip()]))


_LEADING_MUTE = re.compile(r"(?:\s*<mute>[^<]*</mute>)+")


def _pauses_after(pieces: list[str]) -> list[str]:
    """A ``<mute>`` right after a sentence end is that sentence's pause, not the start
    of the next one (as in captions: a cue stays up through the pause after it)."""
    out: list[str] = []
    for piece in pieces:
        m = _LEADING_MUTE.match(piece)
        if out and m:
            out[-1] += m.group(0).strip()
            piece = piece[m.end():].strip()
        if piece:
            out.append(piece)
    return out


def _raw_parts(text: str):
    """Like ``tag_parts`` but a tag's part is its source text (kept in the piece)."""
    at = 0
    for m in TAG.finditer(text):
        if m.start() > at:
            yield None, text[at:m.start()]
        yield ("/" if m.group(1) else "") + m.group(2), m.group(0)
        at = m.end()
    if at < len(text):
        yield None, text[at:]


def _merge_silent(pieces: list[str]) -> list[str]:
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        if not any(u.spoken for u in reading(piece)):
            if merged:
                merged[-1] += piece
            else:
                carry += piece
            continue
        merged.append(carry + piece)
        carry = ""
    if carry:
        merged.append(carry)  # nothing spoken at all: the text stays one piece
    return merged
