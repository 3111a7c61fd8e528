"""Poster frames: one JPEG per output, so a page of 200 videos shows what each looks like.

Why: a page of 200 ``<video>`` elements shows 200 black boxes until each one is played;
a poster shows what each video looks like at a glance, offline, with no vendor call
(the vendors' preview image URLs expire and need the network).

Every verified video is published with its poster beside it (docs/outputs.md:
``outputs/<address>.jpg``, or ``<address>/<sha256>.jpg`` beside the object in a
bucket), so the page links those. An output published before posters were has none:
its poster is cut here by ``media.poster`` (PyAV) into ``DIR/posters/``, named by the
output's sha256, so a second run cuts only the frames of new outputs, and posters of
outputs that are gone are removed.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from reconciler.errors import MediaError
from reconciler.outputs import rules

FOLDER = "posters"


def name_for(sha256: str) -> str:
    return f"{sha256[:32]}.jpg"


def local_posters(out_dir: Path, wanted: dict[str, tuple[str, Path]]) -> dict[str, str]:
    """``{address: (sha256, local mp4 path)}`` -> ``{address: poster src relative to the
    page}``: the published poster beside the video, else one cut into ``DIR/posters/``.
    Cut posters no longer wanted are removed; a video that yields no frame has none."""
    found: dict[str, str] = {}
    todo: dict[str, tuple[str, Path]] = {}
    for address, (sha256, video) in wanted.items():
        published = Path(rules.poster_of(str(video)))
        if published.is_file():
            found[address] = quote(Path(os.path.relpath(published, out_dir)).as_posix())
        else:
            todo[address] = (sha256, video)
    folder = out_dir / FOLDER
    if todo:
        folder.mkdir(parents=True, exist_ok=True)
    for address, (sha256, video) in todo.items():
        target = folder / name_for(sha256)
        if not target.is_file() and not _cut(video, target):
            continue
        found[address] = f"{FOLDER}/{target.name}"
    keep = {name_for(sha) for sha, _ in todo.values()}
    if folder.is_dir():
        for old in folder.glob("*.jpg"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    return found


def _cut(video: Path, poster: Path) -> bool:
    """One frame of ``video`` as ``poster`` (written whole or not at all)."""
    from reconciler.media import poster as media_poster

    try:
        media_poster.write_poster(video, poster)
    except (MediaError, OSError):
        return False
    return True
