"""Is this file an MP4 video? A structural check of the ISO-BMFF box layout, no decoder.

Why a module of its own: a download is published only when its bytes are a video,
not merely the announced number of bytes (a proxy answering 200 with an HTML error
page has a length too), and ``refresh``/``plan`` use the same check on published files.
So the rule lives here once: the file is a sequence of top-level boxes that tile it
exactly (each ``size`` at least its header, none running past the end), the first is
``ftyp``, and a ``moov`` box (the index a player needs) is present. That reads a few
16-byte headers per file (seeks, not the media), so checking every output is cheap.
It does not prove the video plays; it proves the file is not an error page, a cut-off
transfer or random bytes.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

MAX_BOXES = 100_000  # a real MP4 has a handful of top-level boxes


def problem(path: Path | str) -> str | None:
    """Why the file at ``path`` is not an MP4 video (a phrase: "cut short: ..."), or None.
    Raises OSError when the file cannot be read (the caller says what to fix)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            return f"{size} bytes, too short for an MP4"
        pos, kinds = 0, set()
        while pos < size:
            if len(kinds) > MAX_BOXES:
                return "too many top-level boxes"
            f.seek(pos)
            header = f.read(16)
            if len(header) < 8:
                return "cut short inside a box header"
            length, kind = struct.unpack(">I4s", header[:8])
            head = 8
            if length == 1:
                if len(header) < 16:
                    return "cut short inside a box header"
                length, head = struct.unpack(">Q", header[8:16])[0], 16
            elif length == 0:
                length = size - pos  # "to the end of the file"
            if pos == 0 and kind != b"ftyp":
                return f"it starts with {_describe(header)} instead of an MP4 'ftyp' box"
            if length < head or not all(32 <= b < 127 for b in kind):
                return f"a malformed box at byte {pos}"
            if pos + length > size:
                return f"cut short: a box at byte {pos} ends past the file's {size} bytes"
            kinds.add(kind)
            pos += length
        if b"moov" not in kinds:
            return "no 'moov' box (the index a player needs)"
        return None


def _describe(head: bytes) -> str:
    text = head.lstrip()[:8].lower()
    if text.startswith((b"<!doctyp", b"<html", b"<?xml", b"<")):
        return "an HTML/XML page"
    if text.startswith((b"{", b"[")):
        return "JSON text"
    return repr(head[:8])
