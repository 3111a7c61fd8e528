"""What does a video rendered by parts cost this machine to put together (docs/parts.md)?

Setup (defaults): a 10-minute 960x540 25 fps video in 20 parts of 30 s, each a real
H.264 (with B-frames) + AAC clip made by ``tests/media/clips.py`` (not timed). Timed, in
CPU seconds of this process (all threads, ``time.process_time``): the join of the 20
parts (video copied, audio encoded once), the decode-verify of the joined video, its
captions (SRT and WebVTT from a script of ~135 characters per part) and its poster.
Also shown, for scale: verifying all 20 parts (each is verified once, when downloaded).

    .venv/bin/python bench/media_join.py [--minutes 10] [--parts 20] [--keep DIR]

Target: join + verify + captions + poster under 10 % of the video's length (60 s of
CPU for 10 minutes). Printed with ``uptime``: on a shared machine the load says how far
to trust the figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.media.captions import cues, srt, vtt  # noqa: E402
from reconciler.media.join import join  # noqa: E402
from reconciler.media.poster import write_poster  # noqa: E402
from reconciler.media.verify import probe  # noqa: E402
from tests.media.clips import make_clip  # noqa: E402

SENTENCE = "数字人视频按段渲染，修改一句话只需要重新渲染那一句。<mute>300</mute>字幕按照脚本自动生成，时间精确到毫秒。"


def timed(label: str, results: dict, fn, *args):
    cpu, wall = time.process_time(), time.perf_counter()
    value = fn(*args)
    results[label] = (time.process_time() - cpu, time.perf_counter() - wall)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    parser.add_argument("--keep", type=Path, help="make the clips in DIR and keep them (reused when present)")
    args = parser.parse_args()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    total_s = args.minutes * 60
    part_s = total_s / args.parts
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        parts = []
        for i in range(args.parts):
            path = folder / f"part{i:02d}-{args.width}x{args.height}-{part_s:g}s.mp4"
            if not path.exists():
                make_clip(path, part_s, width=args.width, height=args.height, layout="stereo", bframes=2)
            parts.append(path)
        size = sum(p.stat().st_size for p in parts)
        print(f"made {args.parts} parts of {part_s:g} s at {args.width}x{args.height} in "
              f"{time.perf_counter() - t:.1f} s (not timed); {size / 1e6:.1f} MB, "
              f"{size * 8 / total_s / 1e6:.2f} Mbit/s")

        results: dict[str, tuple[float, float]] = {}
        dest = folder / "joined.mp4"
        joined = timed("join", results, join, parts, dest)
        info = timed("verify joined", results, probe, dest)
        script = [(SENTENCE * max(1, round(part_s / 10)), part_s) for _ in parts]
        timed("captions", results, lambda: (srt(c := cues(script)), vtt(c)))
        timed("poster", results, write_poster, dest, folder / "joined.jpg")
        timed("verify 20 parts", results, lambda: [probe(p) for p in parts])

    assert joined.video_copied and abs(info.duration_s - total_s) <= 0.04, (joined, info)
    print(f"joined: {info.duration_s:.2f} s, {info.frames} frames, {info.width}x{info.height}, video copied")
    for label, (cpu, wall) in results.items():
        print(f"  {label:<16} {cpu:7.2f} s CPU  {wall:7.2f} s wall  {100 * cpu / total_s:5.2f} % of the video")
    core = sum(results[k][0] for k in ("join", "verify joined", "captions", "poster"))
    verdict = "OK" if core < 0.10 * total_s else "OVER TARGET"
    print(f"join + verify + captions + poster: {core:.2f} s CPU = {100 * core / total_s:.2f} % of "
          f"{total_s:g} s (target < 10 %): {verdict}")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
