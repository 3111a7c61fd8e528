"""`plan --markdown` in a pull-request comment: the users' text (labels, video names,
file names, reasons, script diffs) reads as itself and never becomes GitHub markup of
its own: no @mention, issue reference, link, image, code span or HTML outside code."""

from __future__ import annotations

import html
import re

from reconciler.model import DesiredVideo, PlanOptions, RecordedVideo, Status
from reconciler.planning import planner
from reconciler.planning.markdown import plan_markdown

NASTY = ("@octocat see #12, org/repo#3 and GH-7: http://evil.example/x www.evil.example "
         "[click](http://x.example) ![pixel](http://y.example/p.png) <img src=x> `code` a@b.example \\[x] | end")


def _plan(*, labels: dict, spec_file: str, old_text: str = "hello", new_text: str = "hello"):
    """A label change (an update) or, when the text changes, a replace with a script diff."""
    fingerprint = "f1" if new_text == old_text else "f2"
    d = {"talk": DesiredVideo(address="talk", provider="unisound", request={"text": new_text}, fingerprint=fingerprint,
                              spec_file=spec_file, tts_chars=5, labels=labels)}
    r = {"talk": RecordedVideo(address="talk", provider="unisound", fingerprint="f1", status=Status.FINISHED,
                               spec_file=spec_file, request={"text": old_text}, output_file="outputs/talk.mp4",
                               labels={"owner": "sales"})}
    return planner.make_plan(d, r, PlanOptions())


def _outside_code(md: str) -> str:
    """What GitHub renders as prose: the comment without fenced blocks and code spans."""
    md = re.sub(r"^```.*?^```$", "", md, flags=re.S | re.M)
    md = re.sub(r"<code>.*?</code>", "", md)
    return re.sub(r"(?<!\\)`[^`]*(?<!\\)`", "", md)


def _as_read(prose: str) -> str:
    """The text a reader sees: escapes and zero-width spaces gone, entities decoded."""
    return html.unescape(re.sub(r"\\(.)", r"\1", prose.replace("&#8203;", "")))


def test_labels_and_file_names_make_no_mention_reference_link_or_markup():
    md = plan_markdown(_plan(labels={"owner": NASTY}, spec_file="specs/@team #1 [x](http://y.example).yaml"))
    prose = _outside_code(md).replace("&#8203;", "\u200b")
    assert not re.search(r"@\w|#\d|://|www\.|GH-\d", prose, re.I), prose
    assert not re.search(r"(?<!\\)[\[\]`<]", prose), prose
    row = next(line for line in md.splitlines() if line.startswith("| `~` update"))
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 7  # the user's pipe did not end a cell
    assert NASTY.replace("|", "") in _as_read(cells[4]).replace("|", "")  # it reads as written
    assert "specs/@team #1 [x](http://y.example).yaml" in _as_read(cells[5])

