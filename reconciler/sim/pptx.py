"""The simulated PPT parser: is the upload a PowerPoint file, and does it ask to fail?

A .pptx is a zip with ``ppt/presentation.xml``; anything else is Xingyun's 30003 (PPT
parse error). Slides are counted from ``ppt/slides/slideN.xml``. The ``SIM_FAIL`` marker
in any slide or notes XML makes renders of this deck fail, like a segment text would.
Reading is bounded so a zip bomb cannot exhaust memory.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from reconciler.sim.lifecycle import FAIL_MARKER

_SLIDE = re.compile(r"^ppt/slides/slide\d+\.xml$")
_TEXT_PART = re.compile(r"^ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml$")
MAX_XML_BYTES = 16 * 1024 * 1024  # total uncompressed XML we are willing to scan


class PptError(ValueError):
    """The upload is not a readable .pptx."""


@dataclass(frozen=True)
class PptFacts:
    slides: int
    fails: bool


def inspect(data: bytes) -> PptFacts:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PptError(f"not a .pptx (zip) file: {exc}") from None
    with archive:
        names = set(archive.namelist())
        if "ppt/presentation.xml" not in names:
            raise PptError("not a .pptx: ppt/presentation.xml is missing")
        slides = sum(1 for n in names if _SLIDE.match(n))
        budget, fails = MAX_XML_BYTES, False
        for name in sorted(n for n in names if _TEXT_PART.match(n)):
            try:
                with archive.open(name) as fh:
                    chunk = fh.read(budget + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                raise PptError(f"cannot read {name}: {exc}") from None
            if len(chunk) > budget:
                raise PptError("slides too large to parse")
            budget -= len(chunk)
            if FAIL_MARKER.encode() in chunk:
                fails = True
        return PptFacts(slides=slides, fails=fails)
