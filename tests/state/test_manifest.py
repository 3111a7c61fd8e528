"""The manifest a user commits: its shape, its stable bytes, its atomic write."""

from __future__ import annotations

import json
import os

import pytest

from reconciler.model import RecordedVideo, Status
from reconciler.state import manifest
from reconciler.util import atomic

KEYS = {"provider", "status", "task_id", "fingerprint", "file", "sha256", "bytes", "video_url",
        "preview_image_url", "spec_file", "labels", "submitted_at", "finished_at", "error",
        "duration_s", "width", "height"}


def rec(address, status=Status.FINISHED, **kw) -> RecordedVideo:
    return RecordedVideo(address=address, provider=kw.pop("provider", "xingyun"), fingerprint=kw.pop("fingerprint", "fp"),
                         status=status, spec_file=kw.pop("spec_file", "specs/launch.yaml"), **kw)


def finished(address, **kw) -> RecordedVideo:
    return rec(address, task_id="135", output_file=f"outputs/{address}.mp4", output_sha256="abc", output_bytes=1234,
               output_fingerprint="fp", output_task_id="135", video_url="https://cdn/v.mp4",
               preview_image_url="https://cdn/p.png", submitted_at="2026-01-01T00:00:00+00:00",
               finished_at="2026-01-01T00:05:00+00:00", labels={"owner": "support"}, **kw)


def test_document_shape():
    doc = manifest.manifest_document({"launch/intro": finished(
        "launch/intro", output_duration_s=12.4, output_width=960, output_height=540)})
    assert doc == {"format_version": 1, "videos": {"launch/intro": {
        "provider": "xingyun", "status": "finished", "task_id": "135", "fingerprint": "fp",
        "file": "outputs/launch/intro.mp4", "sha256": "abc", "bytes": 1234, "video_url": "https://cdn/v.mp4",
        "duration_s": 12.4, "width": 960, "height": 540,
        "preview_image_url": "https://cdn/p.png", "spec_file": "specs/launch.yaml", "labels": {"owner": "support"},
        "submitted_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:05:00+00:00", "error": None}}}


def test_unsent_first_attempts_are_left_out_but_every_submitted_video_is_in():
    recorded = {
        "pending": rec("pending", Status.PENDING),  # intent only, never answered
        "rendering": rec("rendering", Status.RENDERING, task_id="7"),
        "failed": rec("failed", Status.FAILED, error="30005 create failed"),
        "unknown": rec("unknown", Status.UNKNOWN, error="no answer"),
    }
    videos = manifest.manifest_document(recorded)["videos"]
    assert set(videos) == {"rendering", "failed", "unknown"}
    assert all(set(v) == KEYS for v in videos.values())
    assert videos["failed"]["error"] == "30005 create failed" and videos["failed"]["file"] is None


def test_during_a_replace_the_old_output_stays_beside_the_new_attempt():
    old = finished("a")
    replacing = RecordedVideo(**{**old.__dict__, "status": Status.PENDING, "task_id": None, "fingerprint": "fp2",
                                 "attempt": 2})
    entry = manifest.manifest_document({"a": replacing})["videos"]["a"]
    assert (entry["status"], entry["task_id"], entry["fingerprint"]) == ("pending", None, "fp2")
    assert (entry["file"], entry["sha256"], entry["bytes"]) == ("outputs/a.mp4", "abc", 1234)


def test_a_lost_output_is_not_listed_as_a_file():
    entry = manifest.manifest_document({"a": finished("a", output_lost=True, error="gone")})["videos"]["a"]
    assert (entry["file"], entry["sha256"], entry["bytes"]) == (None, None, None)
    assert entry["error"] == "gone"


def test_file_is_sorted_indented_utf8_with_a_trailing_newline(tmp_path):
    path = tmp_path / "state" / "manifest.json"
    recorded = {"zeta": finished("zeta"), "alpha": finished("alpha"),
                "中文/视频": finished("中文/视频")}
    manifest.write_manifest(path, recorded)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "中文/视频" in text  # not \\u escaped
    doc = json.loads(text)
    assert list(doc["videos"]) == ["alpha", "zeta", "中文/视频"]
    assert list(doc["videos"]["alpha"]) == sorted(KEYS)
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("old\n")
    manifest.write_manifest(path, {"a": finished("a")})
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    assert json.loads(path.read_text())["videos"]["a"]["status"] == "finished"


def test_unchanged_bytes_are_not_rewritten(tmp_path):
    path = tmp_path / "manifest.json"
    manifest.write_manifest(path, {"a": finished("a")})
    first = os.stat(path)
    manifest.write_manifest(path, {"a": finished("a")})
    second = os.stat(path)
    assert (second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    manifest.write_manifest(path, {"a": finished("a", error="x")})
    assert os.stat(path).st_ino != first.st_ino  # a change is a new file renamed into place


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    path.write_text("old\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
