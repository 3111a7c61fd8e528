"""The small project the command tests share (the two spec files of docs/specs.md), the
console script run on it, and a state in which its videos rendered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler.config import load_config
from reconciler.model import Status
from reconciler.sim import media
from reconciler.state.sqlite import StateStore
from tests.helpers import XINGYUN_HEADER


def write_project(root: Path) -> Path:
    """The specs of the shared project under ``root``."""
    (root / "specs").mkdir()
    (root / "specs" / "launch.yaml").write_text(LAUNCH, encoding="utf-8")
    (root / "specs" / "faq.yaml").write_text(FAQ, encoding="utf-8")
    return root


LAUNCH = XINGYUN_HEADER + """\
  launch/intro:
    video_name: 发布会开场
    sub_title: "on"
    if_aigc_mark: false
    segment:
      - text: 为推动我国制造业数字化转型,促进智能制造技术正确应用,
        media_url: https://media.example.com/a.png
      - text: 同期将举行多场论坛。
"""

FAQ = """\
defaults:
  provider: unisound
  speech_param: {vcn: xuanxuan-plus, speed: 55}
  video_param: {template: yadi_01, watermask: 0, background: 1, backgroundImage: color_lightgreen.png}
videos:
  faq/q1:
    text: 云知声专注于物联网人工智能服务,这是第<value>110</value>会议室。
    labels: {owner: support}
  faq/q2:
    text: 请您再说一遍<mute>300</mute>或说取消。
    speech_param: {vcn: xiaofeng-plus, pitch: 40}
"""

ADDRESSES = ["faq/q1", "faq/q2", "launch/intro"]


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_"))}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def desired_of(project: Path):
    from reconciler.specs import loader

    return loader.load_specs(load_config(project), {}).desired()


def record_all_finished(project: Path, only=None) -> None:
    """A state in which every (or each ``only``) video of the specs rendered and was downloaded."""
    config = load_config(project)
    store = StateStore(config.state_path)
    try:
        for n, (address, video) in enumerate(sorted(desired_of(project).items()), start=100):
            if only is not None and address not in only:
                continue
            attempt = store.begin_attempt(video, holder="test")
            store.attempt_submitted(address, attempt, str(n))
            store.record_task(address, str(n), Status.FINISHED, video_url=f"https://cdn/{n}.mp4",
                              finished_at="2026-01-01T00:05:00+00:00")
            data = media.base_clip() + media.free_box(b"\0" * n)  # a plan notices an output that is not a video
            store.record_output(address, str(n), f"outputs/{address}.mp4", f"sha{n}", len(data))
            output = project / "outputs" / f"{address}.mp4"  # a plan notices a missing output
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_bytes(data)
    finally:
        store.close()
