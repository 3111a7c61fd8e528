"""Regenerate ``base.mp4``, the one real clip every simulated render is made from.

Run by a developer, never at runtime: ``python -m reconciler.sim.make_base``. It needs
the dev dependency ``imageio-ffmpeg`` (a static ffmpeg with libx264 and aac); the
simulator itself only reads the committed ``base.mp4`` so users of ``reconciler sim``
do not need ffmpeg. The clip is 2 s, 320x240, 25 fps test pattern with a 440 Hz tone,
encoded bit-exactly so regenerating it gives a stable file (~40 KB).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("base.mp4")


def ffmpeg_args(ffmpeg: str, out: Path) -> list[str]:
    return [
        ffmpeg, "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=2",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "30", "-pix_fmt", "yuv420p", "-g", "50",
        "-c:a", "aac", "-b:a", "32k", "-ac", "1",
        "-movflags", "+faststart", "-map_metadata", "-1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-shortest", str(out),
    ]


def main() -> int:
    import imageio_ffmpeg  # dev dependency only

    subprocess.run(ffmpeg_args(imageio_ffmpeg.get_ffmpeg_exe(), TARGET), check=True, timeout=120)
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
