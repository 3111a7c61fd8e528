"""A project whose state is written straight through the store (no simulator): fast
gallery tests of every status a card can show."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from reconciler.config import load_config
from reconciler.model import DesiredVideo, Status
from reconciler.sim import media
from reconciler.state import store as state_store

BASE_MP4_BYTES = media.base_clip()  # a real 2 s clip, as the simulator serves


def desired(address: str, text: str, provider: str = "unisound", labels: dict | None = None) -> DesiredVideo:
    if provider == "unisound":
        request = {"text": text, "speech_param": {"vcn": "xuanxuan-plus"}, "video_param": {"template": "t"}, "type": 2}
    else:
        request = {"look_name": "l", "tts_vcn_name": "v", "studio_name": "s", "segment": [{"text": text}]}
    return DesiredVideo(address=address, provider=provider, request=request,
                        fingerprint=hashlib.sha256(f"{provider}{text}".encode()).hexdigest(),
                        spec_file=f"specs/{provider}.yaml", labels=labels or {})


class StateBuilder:
    def __init__(self, root: Path):
        self.root = root
        self.store = state_store.open_store(load_config(root))  # tests only: no writer lock taken
        self._task = 100

    def finished(self, video: DesiredVideo, *, with_file: bool = True) -> None:
        task = self.submitted(video)
        self.store.record_task(video.address, task, Status.FINISHED, finished_at="2026-11-25T10:00:00+00:00",
                               video_url=f"https://vendor.example.com/{task}.mp4")
        if with_file:
            path = self.root / "outputs" / f"{video.address}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(BASE_MP4_BYTES)
            data = path.read_bytes()
            self.store.record_output(video.address, task, f"outputs/{video.address}.mp4",
                                     hashlib.sha256(data).hexdigest(), len(data))

    def submitted(self, video: DesiredVideo) -> str:
        attempt = self.store.begin_attempt(video, "test")
        self._task += 1
        self.store.attempt_submitted(video.address, attempt, str(self._task))
        return str(self._task)

    def failed(self, video: DesiredVideo, error: str) -> None:
        attempt = self.store.begin_attempt(video, "test")
        self.store.attempt_failed(video.address, attempt, error)

    def unknown(self, video: DesiredVideo) -> None:
        attempt = self.store.begin_attempt(video, "test")
        self.store.attempt_failed(video.address, attempt, "answer lost", status=Status.UNKNOWN)

    def close(self) -> None:
        self.store.close()


RECONCILER = str(Path(sys.executable).with_name("reconciler"))


def run(root: Path, *args: str, **env) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([RECONCILER, "-C", str(root), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)
