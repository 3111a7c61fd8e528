"""What does one edited segment of a 20-part video cost at the vendor (docs/parts.md)?

Two projects against one `reconciler sim` process, through the console script: the same
Xingyun video of N segments (default 20, each the same length), once with `split:
segments` and once whole. Each is applied, then one segment is edited and applied again.
Counted from the simulator's own records, for the edit only: paid creates, the seconds of
video rendered (what an avatar vendor bills: the simulator's clips last as long as their
text, 0.25 s per CJK character) and the TTS characters sent. The vendor cost of the edit
by parts is expected to be 1/N of the whole video's re-render. Also timed: the wall time
of each edit's apply (render waits included; the simulator renders in 0.2 s).

    .venv/bin/python bench/parts_cost.py [--parts 20]

Printed with ``uptime``: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.support import XINGYUN_SPEC, Project, Sim  # noqa: E402

NAMES = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"


def segment(i: int, edited: bool = False) -> str:
    """Segment ``i``: 8 CJK characters, no punctuation (a 2 s clip), each segment its own text."""
    return f"第{NAMES[i % len(NAMES)]}{NAMES[i // len(NAMES)]}段讲{'新' if edited else '旧'}内容"


def write(project: Project, n: int, split: bool, edited_at: int | None = None) -> None:
    lines = ["  course/lesson:", "    video_name: lesson"] + (["    split: segments"] if split else [])
    lines += ["    segment:"] + [f"      - text: {segment(i, i == edited_at)}" for i in range(n)]
    specs = project.root / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "xingyun.yaml").write_text(XINGYUN_SPEC.format(videos="\n".join(lines)))


def paid(sim: Sim) -> tuple[int, float]:
    """(paid creates, seconds of video rendered) so far, as the simulator recorded them."""
    creates = [e for e in sim.calls("create") if e["ok"]]
    return len(creates), sum(t["video_seconds"] for t in sim.tasks().values())


def run(root: Path, sim: Sim, n: int, split: bool) -> dict:
    project = Project(root, sim)
    write(project, n, split)
    applied(project)
    before = paid(sim)
    write(project, n, split, edited_at=n // 2)
    plan = project.run("plan", "--json")
    estimate = json.loads(plan.stdout)["estimate"]
    started = time.perf_counter()
    applied(project)
    wall = time.perf_counter() - started
    after = paid(sim)
    return {"renders": after[0] - before[0], "seconds": after[1] - before[1], "tts_chars": estimate["tts_chars"],
            "planned": estimate["renders"], "wall": wall}


def applied(project: Project) -> None:
    result = project.apply()
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=20)
    n = parser.parse_args().parts
    with tempfile.TemporaryDirectory() as tmp:
        sim = Sim(Path(tmp) / "sim", render_seconds=0.2)
        try:
            whole = run(Path(tmp) / "whole", sim, n, split=False)
            sim.reset()
            parts = run(Path(tmp) / "parts", sim, n, split=True)
        finally:
            sim.stop()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"one segment of {n} edited          whole video   by parts   ratio")
    print(f"  paid renders                   {whole['renders']:>11}   {parts['renders']:>8}")
    print(f"  video seconds rendered         {whole['seconds']:>11.1f}   {parts['seconds']:>8.1f}   "
          f"{parts['seconds'] / whole['seconds']:.4f} (1/{whole['seconds'] / parts['seconds']:.1f})")
    print(f"  TTS characters sent (planned)  {whole['tts_chars']:>11}   {parts['tts_chars']:>8}   "
          f"{parts['tts_chars'] / whole['tts_chars']:.4f} (1/{whole['tts_chars'] / parts['tts_chars']:.1f})")
    print(f"  plan --json renders            {whole['planned']:>11}   {parts['planned']:>8}")
    print(f"  apply wall time (s)            {whole['wall']:>11.1f}   {parts['wall']:>8.1f}")
    print(f"target: the edit by parts costs 1/{n} of the whole re-render in video seconds and TTS characters")


if __name__ == "__main__":
    main()
