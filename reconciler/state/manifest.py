"""The manifest (docs/formats.md): which output file came from which render.

Users commit ``state/manifest.json`` and other tools read it, so it must diff cleanly
and never be seen half-written: keys sorted, two-space indent, UTF-8 text kept as is,
a trailing newline, written atomically, and not rewritten at all when nothing in it
changed (so ``watch`` does not touch the file, or its mtime, every cycle).

The document shows, per video, the *latest attempt* (status, task id, fingerprint,
error) beside the *published output* (file, sha256, bytes, and what its full decode
measured: duration_s, width, height; null for an output published before they were
recorded). During a replace these
differ: the old output stays listed until the new render is downloaded. A video
whose first create has not even been sent yet (pending, no task, no output) is not
in the manifest. ``status --json`` prints this same document.

With outputs in a bucket and ``outputs_public_url`` set (docs/outputs.md), each video with
a published output also has ``url``: the public base plus ``<address>/<sha256>.mp4``
(``public_url``, from ``outputs/base``). Without it the document is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from reconciler.model import RecordedVideo, Status
from reconciler.util import atomic

FORMAT_VERSION = 1


PublicUrl = Callable[[str | None], str | None]  # a published file -> the URL a player uses, or None


def manifest_document(recorded: dict[str, RecordedVideo], public_url: PublicUrl | None = None) -> dict:
    videos = {address: _entry(video) for address, video in sorted(recorded.items()) if in_manifest(video)}
    if public_url is not None:
        for address, entry in videos.items():
            url = public_url(entry["file"]) if entry["file"] else None
            if url:
                entry["url"] = url
    return {"format_version": FORMAT_VERSION, "videos": videos}


def in_manifest(video: RecordedVideo) -> bool:
    return not (video.status is Status.PENDING and video.task_id is None and video.output_file is None)


def _entry(video: RecordedVideo) -> dict:
    published = video.has_output
    return {
        "provider": video.provider,
        "status": video.status.value,
        "task_id": video.task_id,
        "fingerprint": video.fingerprint,
        "file": video.output_file if published else None,
        "sha256": video.output_sha256 if published else None,
        "bytes": video.output_bytes if published else None,
        "duration_s": video.output_duration_s if published else None,
        "width": video.output_width if published else None,
        "height": video.output_height if published else None,
        "video_url": video.video_url,
        "preview_image_url": video.preview_image_url,
        "spec_file": video.spec_file or None,
        "labels": dict(video.labels),
        "submitted_at": video.submitted_at,
        "finished_at": video.finished_at,
        "error": video.error,
    }


def render_manifest(recorded: dict[str, RecordedVideo], public_url: PublicUrl | None = None) -> str:
    """The exact text of the manifest file (also what ``status --json`` prints)."""
    return json.dumps(manifest_document(recorded, public_url), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_manifest(path: Path, recorded: dict[str, RecordedVideo], public_url: PublicUrl | None = None) -> None:
    """Atomically write the manifest; leave the file alone if its bytes would not change."""
    data = render_manifest(recorded, public_url).encode("utf-8")
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    atomic.atomic_write_bytes(path, data)
