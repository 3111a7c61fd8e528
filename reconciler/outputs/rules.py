"""The rules every outputs store shares: what a published output found gone or damaged
means, adoption of an interrupted download, quarantine, this checkout's place.

Why a module of its own: the outputs are what a user keeps, so the rules about them sit
in one place, whichever store holds them (and import nothing heavy: ``plan`` uses them
too); a folder's own checks are ``outputs/local``, a bucket's ``outputs/bucket``:

- A published file that is gone or damaged is not a lost output while the vendor can
  give it again (docs/specs.md): Xingyun's links can be fetched again, so such a video
  reads as "finished, output not downloaded" and apply/refresh download it, no new
  render. Only a one-shot output (Unisound, ``ONE_SHOT``) is lost with its file.
- A download that was renamed into place by a writer killed before its record is
  *adopted* (``adoptable``): same file, verified again, recorded.
- Bytes of a used one-shot URL that are not a video are kept in ``state/quarantine/``.
- A shared state (docs/team.md) records which checkout downloaded each output
  (``this_place``). A file missing here that another checkout downloaded is not lost
  (``kept_elsewhere``): fetched again while the vendor's link works, otherwise
  reported as kept on another machine; it never leads to a paid render.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from reconciler.config import Config
from reconciler.model import VENDORS, RecordedVideo, Status
from reconciler.util import digest, mp4

SUFFIX = ".mp4"
# Small files published beside a video (``OutputsStore.publish_sidecar``): kind -> content type.
SIDECARS = {"jpg": "image/jpeg", "srt": "application/x-subrip", "vtt": "text/vtt"}
# Providers whose output URL serves once (``Capabilities.one_shot_download``), known
# here without building a client, for readers such as ``plan``: their output cannot
# be fetched again, so a published file that is gone is lost with it.
ONE_SHOT = frozenset(name for name, v in VENDORS.items() if v.one_shot_download)  # model.VENDORS


def this_place(config: Config) -> str:
    """This checkout: ``host:/project/root``, recorded with each output it downloads."""
    import socket

    return f"{socket.gethostname()}:{config.root}"


def kept_elsewhere(config: Config, video: RecordedVideo | None) -> str | None:
    """The checkout holding ``video``'s published output if it is another one than this
    (so a file missing here is not lost), else None."""
    if video is None or not video.has_output or not video.output_place:
        return None
    return None if video.output_place == this_place(config) else video.output_place


def refetchable(provider: str) -> bool:
    """Whether the vendor can give a finished render's output again (a fresh link)."""
    return provider not in ONE_SHOT


POSTER_SUFFIX = ".jpg"  # a published video's poster sits beside it (docs/outputs.md)


def poster_of(file: str) -> str:
    """The poster beside a published video ``file`` (a path or an ``s3://`` URL)."""
    return file.removesuffix(SUFFIX) + POSTER_SUFFIX


sha256_of = digest.file_sha256  # the one file-hashing routine (util/digest), named here for the outputs' callers


def fetch_again(video: RecordedVideo) -> bool:
    """Whether a published output found gone or damaged is downloaded again from the
    vendor (its current render's output, from a vendor whose links can be re-fetched)
    rather than lost."""
    return (refetchable(video.provider) and video.status is Status.FINISHED
            and video.output_task_id == video.task_id)


def as_not_downloaded(video: RecordedVideo, why: str) -> RecordedVideo:
    """``video`` as "finished, output not downloaded" (in memory): what apply/refresh
    then fetch again (``engine.to_collect``)."""
    return dataclasses.replace(video, output_file=None, output_sha256=None, output_bytes=None,
                               output_task_id=None, error=f"{why}: it is downloaded again from the vendor")


def identity(path: Path) -> str | None:
    """What is at ``path`` now (inode, size, mtime), recorded before a download's GET:
    a file renamed into place afterwards has another identity. None if nothing is there."""
    try:
        st = path.stat()
    except OSError:
        return None
    return json.dumps([st.st_ino, st.st_size, st.st_mtime_ns])


def download_mark(config: Config, path: Path) -> str:
    """What the state records as a download into ``path`` starts: this checkout (a shared
    state, docs/team.md) and what is at ``path`` now (``identity``)."""
    return json.dumps({"place": this_place(config), "was": identity(path)})


def read_mark(mark: str | None) -> tuple[str | None, str | None]:
    """(the checkout that started the download, the identity of what was there before it)
    of a recorded ``download_mark``; a state written before marks had a place holds the
    identity alone."""
    if mark is None:
        return None, None
    try:
        data = json.loads(mark)
    except ValueError:
        return None, mark
    return (data.get("place"), data.get("was")) if isinstance(data, dict) else (None, mark)


def adoptable(path: Path, mark: str | None, published_sha256: str | None) -> tuple[str, int] | None:
    """(sha256, bytes) of the file at ``path`` if a download renamed it into place after
    ``mark`` was recorded (a writer killed before recording it) and it is a complete
    video that is not the output already published; else None (download it)."""
    now = identity(path)
    if now is None or now == read_mark(mark)[1]:
        return None
    try:
        if mp4.problem(path) is not None:
            return None
        sha = sha256_of(path)
        size = path.stat().st_size
    except OSError:
        return None
    return None if sha == published_sha256 else (sha, size)


def quarantine(config: Config, kept: Path, address: str, task_id: str) -> str:
    """Move bytes kept aside by a failed one-shot download to ``state/quarantine/`` for a
    person to inspect; returns where they are (project-relative if inside it)."""
    folder = config.state_dir / "quarantine"
    target = folder / f"{address.replace('/', '__')}.task-{task_id}.bin"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        import shutil  # only for the rare quarantine

        shutil.move(str(kept), target)
    except OSError:
        target = kept
    return config.rel(target)


def remove_empty_folders(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) ``top``."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def sweep_partials(config: Config, folder: Path | None = None) -> list[Path]:
    """Tidy what a killed process left under ``folder`` (default: the outputs folder): the
    temporary files of half-done downloads (``.<name>.mp4.*.part``, see
    ``providers.download``), of copies to and from the render cache (``.part`` too,
    ``outputs/render_cache``) and of links an older version made (``.<name>.mp4.<pid>.link``)
    are removed; bytes a one-shot download had kept aside
    as not a video (``.<name>.mp4.*.rejected``) go to ``state/quarantine/`` for a person
    to inspect. Call only under the lock. Returns the paths tidied."""
    folder = config.outputs_dir if folder is None else folder
    if not folder.is_dir():
        return []
    tidied = []
    for pattern in (f".*{SUFFIX}.*.part", f".*{SUFFIX}.*.link"):
        for path in folder.rglob(pattern):
            try:
                path.unlink()
                tidied.append(path)
            except OSError:
                pass
    for path in folder.rglob(f".*{SUFFIX}.*.rejected"):
        name, _, tag = path.name[1:-len(".rejected")].partition(SUFFIX + ".")
        address = (path.parent.relative_to(folder) / name).as_posix()
        if quarantine(config, path, address, f"unknown.{tag}") != config.rel(path):
            tidied.append(path)
    return tidied
