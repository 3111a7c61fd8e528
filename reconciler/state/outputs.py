"""The published outputs: the video files under ``outputs/``.

Why a module of its own: the files are what a user keeps, so the rules about them sit
in one place (and import nothing heavy: ``plan`` checks them too):

- A video's file is ``<outputs>/<address>.mp4``; state and manifest record its
  project-relative path. Only such a *managed* path is ever deleted, so a state
  edited by hand cannot make reconciler remove a file elsewhere.
- ``check_output`` is how ``refresh`` notices a file that is gone or was changed
  (sha256 differs from the one recorded at download).
- ``notice_missing`` lets ``plan`` and ``apply`` see a published file that is gone
  (one ``stat`` each), so a lost output is proposed for a render without a refresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from reconciler.config import Config
from reconciler.model import RecordedVideo, Status

SUFFIX = ".mp4"


def output_path(config: Config, address: str) -> Path:
    """Where the output of ``address`` lives (absolute)."""
    return config.outputs_dir / f"{address}{SUFFIX}"


def relative(config: Config, path: Path) -> str:
    """The project-relative posix path recorded in state and manifest."""
    return config.rel(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_output(config: Config, video: RecordedVideo) -> str | None:
    """Why the published output of ``video`` is lost (missing, changed), or None if intact."""
    if not video.has_output:
        return None
    path = config.root / video.output_file
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        return f"{video.output_file} is missing"
    except OSError as exc:
        return f"{video.output_file} cannot be read ({exc.strerror or exc})"
    if actual != video.output_sha256:
        return f"{video.output_file} was changed (sha256 {actual[:12]}…, recorded {(video.output_sha256 or '')[:12]}…)"
    return None


def notice_missing(config: Config, recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
    """``recorded`` with every finished video whose published file is gone (or has another
    size than recorded) marked lost, in memory only: ``plan`` and ``apply`` then propose
    to render it again without a ``refresh`` first (CONTRACT §3, "its output is lost").
    One ``stat`` per file; hashing every output stays with ``refresh`` (``check_output``).
    A video whose newer render is still running or not yet downloaded is left alone."""
    out = recorded
    for address, video in recorded.items():
        if not video.has_output or video.status is not Status.FINISHED or video.output_task_id != video.task_id:
            continue
        try:
            size = (config.root / video.output_file).stat().st_size
        except FileNotFoundError:
            why = f"{video.output_file} is missing"
        except OSError as exc:
            why = f"{video.output_file} cannot be read ({exc.strerror or exc})"
        else:
            if video.output_bytes is None or size == video.output_bytes:
                continue
            why = f"{video.output_file} has {size} bytes, recorded {video.output_bytes}"
        if out is recorded:
            out = dict(recorded)
        out[address] = dataclasses.replace(video, output_lost=True, error=f"output lost: {why}")
    return out


def remove_output(config: Config, address: str, recorded_file: str | None) -> bool:
    """Delete the managed output file of ``address`` (if the state points at it) and the
    directories it leaves empty under ``outputs/``. True if a file was removed."""
    if not recorded_file:
        return False
    managed = output_path(config, address)
    if (config.root / recorded_file).resolve() != managed.resolve():
        return False  # not ours to delete
    try:
        managed.unlink()
    except FileNotFoundError:
        return False
    top = config.outputs_dir.resolve()
    parent = managed.resolve().parent
    while parent != top and top in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return True


def sweep_partials(config: Config) -> list[Path]:
    """Remove the temporary files of downloads a killed process left half-done
    (``.<name>.mp4.*.part``, see ``providers.download``). Call only under the lock."""
    if not config.outputs_dir.is_dir():
        return []
    removed = []
    for path in config.outputs_dir.rglob(f".*{SUFFIX}.*.part"):
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed
