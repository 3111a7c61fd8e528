"""Captions timed from the script (docs/parts.md): cues, and their SRT and WebVTT text.

No speech model (none can be loaded here, LIBRARIES.md): the script is known, and so
is each part's measured duration. Part boundaries are therefore exact, and within a
part the time is shared in proportion to what is spoken (``script.reading``: letters,
digits and CJK characters, a ``<sub>``'s alias, ``<mute>`` pauses at their length).

Cues are cut at sentence and clause punctuation and line ends, hold at most two lines
of at most 20 CJK characters (punctuation not counted) or 42 other characters (a mixed
line: CJK/20 + other/42 at most 1), never run past a sentence end or a part boundary,
(nor a ``<mute>`` after a clause), and follow one another without overlap: a cue stays up through the pause after it
until the next begins, and a part's last cue until the part ends, so the last cue ends
with the audio. The writers are a few lines each, so no subtitle library is needed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from reconciler.media.script import CLOSERS, SENTENCE_ENDS, Unit, ends_sentence, reading

MAX_LINES = 2
CJK_PER_LINE = 20
OTHER_PER_LINE = 42
CLAUSE_ENDS = "，,；;：:、"


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def cues(parts: Sequence[tuple[str, float]]) -> list[Cue]:
    """The cues of a video made of ``parts``, each ``(script, measured duration_s)``."""
    out: list[Cue] = []
    start = 0.0
    for text, duration in parts:
        out.extend(_part_cues(reading(text), start, float(duration)))
        start += float(duration)
    return out


def srt(cue_list: Sequence[Cue]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm`` times."""
    return "".join(f"{n}\n{_stamp(c.start_s, ',')} --> {_stamp(c.end_s, ',')}\n{c.text}\n\n"
                   for n, c in enumerate(cue_list, 1))


def vtt(cue_list: Sequence[Cue]) -> str:
    """WebVTT text: ``HH:MM:SS.mmm`` times, ``&``, ``<`` and ``>`` escaped."""
    body = "".join(f"{_stamp(c.start_s, '.')} --> {_stamp(c.end_s, '.')}\n{_escape(c.text)}\n\n" for c in cue_list)
    return "WEBVTT\n\n" + body


def _stamp(seconds: float, comma: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{comma}{ms % 1000:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- one part ------------------------------------------------------------------------------


def _part_cues(units: list[Unit], start: float, duration: float) -> list[Cue]:
    times = _clock(units, start, duration)
    if times is None:
        return []
    cues_of_part: list[tuple[int, list[str]]] = []  # (first unit, lines)
    for sentence in _sentences(units):
        lines: list[str] = []
        first = None
        for a, b in _chunks(units, sentence):
            chunk = _text(units, a, b)
            if first is None:
                first = a
            if lines and _fits(_joined(lines[-1], chunk)):
                lines[-1] = _joined(lines[-1], chunk)
            elif len(lines) < MAX_LINES:
                lines.append(chunk)
            else:
                cues_of_part.append((first, lines))
                first, lines = a, [chunk]
        if lines:
            cues_of_part.append((first, lines))
    end = start + duration
    result = []
    for k, (first, lines) in enumerate(cues_of_part):
        cue_end = times[cues_of_part[k + 1][0]] if k + 1 < len(cues_of_part) else end
        result.append(Cue(times[first], cue_end, tuple(lines)))
    return result


def _clock(units: list[Unit], start: float, duration: float) -> list[float] | None:
    """The time at which each unit starts (one more entry: the end), or None when
    nothing is spoken. Pauses take their length, characters share the rest; pauses
    longer than the part are shrunk to half of it."""
    spoken = sum(u.spoken for u in units)
    if spoken <= 0:
        return None
    pauses = sum(u.pause_s for u in units)
    pause_scale = 1.0 if pauses < duration * 0.9 else duration * 0.5 / pauses
    per_char = (duration - pauses * pause_scale) / spoken
    times, t = [], start
    for u in units:
        times.append(t)
        t += u.spoken * per_char + u.pause_s * pause_scale
    times.append(t)
    return times


def _sentences(units: list[Unit]) -> list[list[tuple[int, int]]]:
    """Clauses as unit ranges ``[a, b)`` grouped by sentence (a group ends a cue). A range
    starts at its first shown character and takes the spaces and pauses after its
    punctuation; a ``<mute>`` there ends the group as a sentence end does (no cue shows
    what is said after a pause); line ends cut; a clause with nothing spoken (a line of
    punctuation) joins the clause before it, or the one after it at the start."""
    shown = "".join(u.shown if u.shown else "\u0000" for u in units)  # one character per unit
    clauses: list[tuple[int, int, bool]] = []  # (a, b, ends its group)
    a = None
    i = 0
    while i < len(units):
        char = shown[i]
        if char == "\n":
            if a is not None:
                clauses.append((a, i, True))
                a = None
            elif clauses:
                clauses[-1] = (clauses[-1][0], clauses[-1][1], True)
            i += 1
            continue
        if a is None and units[i].shown.strip():
            a = i
        i += 1
        if a is None:
            continue
        sentence_end = ends_sentence(shown, i - 1)
        if sentence_end or _ends_clause(shown, i - 1):
            while i < len(units) and (shown[i] in CLOSERS or shown[i] in SENTENCE_ENDS or shown[i] in CLAUSE_ENDS):
                i += 1
            punctuated = i
            while i < len(units) and not units[i].shown.strip() and shown[i] != "\n":
                i += 1  # spaces and pauses after the punctuation belong to this clause
            clauses.append((a, i, sentence_end or any(u.pause_s for u in units[punctuated:i])))
            a = None
    if a is not None:
        clauses.append((a, len(units), True))
    groups: list[list[tuple[int, int]]] = [[]]
    for a, b, ends in _merge_unspoken(units, clauses):
        groups[-1].append((a, b))
        if ends:
            groups.append([])
    return [g for g in groups if g]


def _ends_clause(shown: str, i: int) -> bool:
    """A clause mark, but not a separator inside a number or a time (1,000 / 12:30)."""
    if shown[i] not in CLAUSE_ENDS:
        return False
    return shown[i] not in ",:;" or i + 1 >= len(shown) or not shown[i + 1].isalnum()


def _merge_unspoken(units: list[Unit], clauses: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    merged: list[tuple[int, int, bool]] = []
    carried = None  # the start of unspoken clauses at the very beginning
    for a, b, ends in clauses:
        if any(u.spoken for u in units[a:b]):
            merged.append((a if carried is None else carried, b, ends))
            carried = None
        elif merged:
            merged[-1] = (merged[-1][0], b, merged[-1][2] or ends)
        elif carried is None:
            carried = a
    return merged


def _chunks(units: list[Unit], clauses: list[tuple[int, int]]):
    """Each clause, cut into pieces that fit on a line where it does not: at a space in
    other scripts, between characters in CJK."""
    for a, b in clauses:
        if _fits(_text(units, a, b)):
            yield a, b
            continue
        start = a
        while start < b:
            end, last_break = start, None
            while end < b and _fits(_text(units, start, end + 1)):
                end += 1
                after = next((u.shown for u in units[end:b] if u.shown.strip()), "")
                if _punctuation(after):
                    continue  # a line never starts with punctuation
                if units[end - 1].shown == " " or _wide(units[end - 1].shown) or _wide(after):
                    last_break = end
            if end >= b:
                yield start, b
                break
            cut = last_break if last_break and last_break > start else max(end, start + 1)
            while cut - 1 > start and not any(u.spoken for u in units[cut:b]):
                cut -= 1  # a word cut mid-way (no space to break at): its punctuation keeps a letter
            yield start, cut
            start = cut
            while start < b and not units[start].shown.strip():
                start += 1


def _text(units: list[Unit], a: int, b: int) -> str:
    """What units ``[a, b)`` show on one line (a line end inside: a merged clause)."""
    return "".join(u.shown for u in units[a:b] if u.shown != "\n").strip()


def _joined(line: str, chunk: str) -> str:
    if line and chunk and not _wide(line[-1]) and not _wide(chunk[0]):
        return f"{line} {chunk}"
    return line + chunk


def _wide(char: str) -> bool:
    return bool(char) and unicodedata.east_asian_width(char[0]) in "WF"


def _punctuation(char: str) -> bool:
    return bool(char) and unicodedata.category(char[0])[0] == "P"


def _fits(line: str) -> bool:
    """At most 20 CJK characters (punctuation not counted) or 42 others, pro rata."""
    cjk = sum(1 for c in line if _wide(c) and not _punctuation(c))
    other = sum(1 for c in line if not _wide(c))
    return cjk * OTHER_PER_LINE + other * CJK_PER_LINE <= CJK_PER_LINE * OTHER_PER_LINE
