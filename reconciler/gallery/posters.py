"""Poster frames: one JPEG per output, cut locally from the MP4 by ffmpeg.

Why: a page of 200 ``<video>`` elements shows 200 black boxes until each one is played;
a poster shows what each video looks like at a glance, offline, with no vendor call
(the vendors' preview image URLs expire and need the network).

The ffmpeg is the static one ``imageio-ffmpeg`` brings (the ``dev`` extra); it is imported
here only, so no other command pays for it. Without it the page still works, without
posters, and says so. A poster is named by the output's sha256, so a second run cuts
only the frames of new outputs, and posters of outputs that are gone are removed.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reconciler.util import atomic

FOLDER = "posters"
SEEK_SECONDS = ("1", "0")  # a frame one second in (past a fade-in), else the first frame
TIMEOUT = 30.0  # seconds per ffmpeg run
WIDTH = 480


def find_ffmpeg() -> tuple[str | None, str]:
    """The ffmpeg executable, or None and why not (for the page and the command's note)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None, "imageio-ffmpeg is not installed (pip install imageio-ffmpeg), so the page has no posters"
    try:
        return imageio_ffmpeg.get_ffmpeg_exe(), ""
    except Exception as exc:  # its own RuntimeError when the binary is missing for this platform
        return None, f"imageio-ffmpeg has no ffmpeg here ({exc}), so the page has no posters"


def name_for(sha256: str) -> str:
    return f"{sha256[:32]}.jpg"


def make_posters(ffmpeg: str, out_dir: Path, wanted: dict[str, Path]) -> dict[str, str]:
    """Cut a poster for each ``{sha256: mp4 path}``; return ``{sha256: relative poster path}``
    for those that exist afterwards. Posters no longer wanted are removed."""
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = {sha: name_for(sha) for sha in wanted}
    todo = [(sha, path) for sha, path in wanted.items() if not (folder / names[sha]).is_file()]
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(lambda item: _cut(ffmpeg, item[1], folder / names[item[0]]), todo))
    keep = set(names.values())
    for old in folder.glob("*.jpg"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return {sha: f"{FOLDER}/{name}" for sha, name in names.items() if (folder / name).is_file()}


def _cut(ffmpeg: str, video: Path, poster: Path) -> None:
    """One frame of ``video`` as ``poster`` (written whole or not at all)."""
    for seek in SEEK_SECONDS:
        try:
            result = subprocess.run(
                [ffmpeg, "-nostdin", "-loglevel", "error", "-ss", seek, "-i", str(video), "-frames:v", "1",
                 "-vf", f"scale='min({WIDTH},iw)':-2", "-q:v", "4", "-f", "image2", "-c:v", "mjpeg", "pipe:1"],
                capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return
        if result.returncode == 0 and result.stdout:
            atomic.atomic_write_bytes(poster, result.stdout, durable=False)  # a cache: cut again if torn
            return
