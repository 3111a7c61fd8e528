"""`reconciler status` in a 100-column terminal with outputs in a bucket (docs/outputs.md):
each output is ``s3://bucket/prefix/<address>/<sha256>.mp4``, longer than the terminal,
yet every line fits and each video's row names its address and status; the output is
shown by its sha256's first 12 digits, the bucket said once below the table. Piped
without COLUMNS, each file stays whole on its video's line (for grep and awk)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from rich.cells import cell_len

from reconciler.config import load_config
from reconciler.model import DesiredVideo, Status
from reconciler.state.sqlite import StateStore

BUCKET = "s3://team-renders/launch-2026/videos"
ADDRESSES = ["course/lesson-01-introduction-to-the-product", "faq/q1", "launch/intro",
             "marketing/2026/spring-campaign/hero-video-final"]


def _bucket_state(root) -> dict[str, str]:
    """A state whose outputs are in the bucket; returns each finished video's file."""
    (root / "reconciler.yaml").write_text(f"outputs: {BUCKET}\n")
    store = StateStore(load_config(root).state_path)
    files = {}
    try:
        for n, address in enumerate(ADDRESSES, start=100):
            request = {"text": f"第{n}号。", "speech_param": {"vcn": "xuanxuan-plus"},
                       "video_param": {"template": "t"}}
            video = DesiredVideo(address=address, provider="unisound", request=request,
                                 fingerprint=hashlib.sha256(address.encode()).hexdigest(), spec_file="specs/a.yaml")
            attempt = store.begin_attempt(video, holder="test")
            if address == "launch/intro":
                store.attempt_failed(address, attempt, "23907 the template yadi_01 does not exist for this app key")
                continue
            store.attempt_submitted(address, attempt, str(n))
            store.record_task(address, str(n), Status.FINISHED, video_url=f"https://cdn/{n}.mp4",
                              finished_at="2026-01-01T00:05:00+00:00")
            sha = hashlib.sha256(f"bytes of {address}".encode()).hexdigest()
            files[address] = f"{BUCKET}/{address}/{sha}.mp4"
            store.record_output(address, str(n), files[address], sha, 1000 + n)
    finally:
        store.close()
    return files


def _status(root, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(root), "status"], capture_output=True,
                          text=True, env={**environ, **env}, timeout=60)


def test_status_fits_100_columns_with_bucket_outputs(tmp_path):
    files = _bucket_state(tmp_path)
    result = _status(tmp_path, COLUMNS="100")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if cell_len(line) > 100] == []
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in ADDRESSES}
    assert sorted(rows) == ADDRESSES
    assert {a: row[1] for a, row in rows.items()} == {
        "course/lesson-01-introduction-to-the-product": "finished", "faq/q1": "finished",
        "launch/intro": "failed", "marketing/2026/spring-campaign/hero-video-final": "finished"}
    for address, file in files.items():  # the output named by its sha256's first 12 digits
        sha = file.rpartition("/")[2].removesuffix(".mp4")
        assert f"{sha[:12]}….mp4" in rows[address]
    assert f"{BUCKET}/ADDRESS/SHA256.mp4" in result.stdout
    assert "4 videos: 3 finished, 1 failed." in result.stdout


def test_piped_status_keeps_each_bucket_file_whole(tmp_path):
    files = _bucket_state(tmp_path)
    result = _status(tmp_path)
    assert result.returncode == 0, result.stderr
    for address, file in files.items():
        (line,) = [line for line in result.stdout.splitlines() if line.startswith(address + " ")]
        assert file in line and "finished" in line
