"""The render cache's files (docs/cache.md): a verified output kept under its render
fingerprint, so the same content is never paid for twice.

Why a module of its own: the index lives in the state store (``Store.cache_*``), the
bytes live in the outputs store: here ``<outputs>/.cache/<fingerprint>.mp4``, a copy of
its own (a reflink where the filesystem offers one, never a hard link: overwriting a
published output in place must change no other video and no entry; docs/cache.md,
clarifications). ``outputs/bucket`` implements the same few functions for a
bucket. Nothing else touches the files:

- ``keep`` puts a copy of a published, verified output into the cache;
- ``problem`` verifies an entry before use (size, sha256, that it is an MP4): a damaged
  entry is dropped by the caller, never served;
- ``unservable`` is the plan's cheap look (the entry is this checkout's, its file exists
  with the recorded size), so a plan never counts as free an entry apply cannot serve;
- ``publish`` puts a copy of an entry at ``outputs/<address>.mp4`` atomically, its
  sha256 checked on the copy before it replaces anything (``Damaged`` otherwise);
- ``remove`` and ``total_bytes`` serve ``reconciler cache prune`` and ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.config import Config
from reconciler.util import atomic, mp4

FOLDER = ".cache"


class Damaged(Exception):
    """The bytes copied out of an entry are not those recorded: nothing was published."""


def entry_path(config: Config, fingerprint: str) -> Path:
    return config.outputs_dir / FOLDER / f"{fingerprint}.mp4"


def keep(config: Config, fingerprint: str, published: Path) -> None:
    """Keep a copy of the published output ``published`` under ``fingerprint`` (OSError:
    the caller's)."""
    atomic.copy_file(published, entry_path(config, fingerprint), suffix=".part")


def problem(config: Config, entry: dict) -> str | None:
    """Why the cached file of ``entry`` may not be served (gone, another size, changed
    bytes, not a video), or None if it is intact."""
    from reconciler.outputs.rules import sha256_of

    path = entry_path(config, entry["fingerprint"])
    try:
        size = path.stat().st_size
        if size != entry["bytes"]:
            return f"cached file has {size} bytes, recorded {entry['bytes']}"
        if sha256_of(path) != entry["sha256"]:
            return "cached file's sha256 differs from the one recorded"
        why = mp4.problem(path)
    except FileNotFoundError:
        return "cached file is missing"
    except OSError as exc:
        return f"cached file cannot be read ({exc.strerror or exc})"
    return None if why is None else f"cached file is not a video ({why})"


def publish(config: Config, entry: dict, dest: Path) -> None:
    """Put a copy of the cached output of ``entry`` at ``dest`` atomically, once the
    copy's size and sha256 are the recorded ones (``Damaged`` otherwise, ``dest`` left as
    it was; OSError: a local failure to report)."""
    from reconciler.outputs.rules import sha256_of

    def verify(copy: Path) -> None:
        size = copy.stat().st_size
        if size != entry["bytes"]:
            raise Damaged(f"cached file has {size} bytes, recorded {entry['bytes']}")
        if sha256_of(copy) != entry["sha256"]:
            raise Damaged("cached file's sha256 differs from the one recorded")

    for again in (False, True):
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            atomic.copy_file(entry_path(config, entry["fingerprint"]), dest, verify=verify, suffix=".part")
            return
        except FileNotFoundError as exc:
            if exc.filename is not None and Path(exc.filename) == entry_path(config, entry["fingerprint"]):
                raise Damaged("cached file is missing") from None
            if again:
                raise
            # the destination's folder went away under the copy: a delete in the same folder
            # removed it as empty (a move within a folder runs its delete beside its create)


def place(config: Config) -> str:
    """Where this checkout keeps its entries' bytes, as the index records it: this host and
    the absolute outputs folder (another checkout of a shared state cannot read them)."""
    return place_of(config.outputs_dir)


def place_of(folder: Path) -> str:
    """``place`` of the outputs folder ``folder`` (also ``outputs migrate``'s target)."""
    import socket

    return f"{socket.gethostname()}:{folder.resolve()}"


def unservable(config: Config, entries: list[dict]) -> dict[str, str]:
    """Of ``entries`` (index rows), those this checkout cannot serve, by fingerprint, with
    why: kept by another checkout, or the file gone or of another size. One ``stat``
    each: the plan's look (``problem`` hashes, at apply)."""
    here, out = place(config), {}
    for entry in entries:
        where = entry.get("location")
        if where is not None and where != here:
            out[entry["fingerprint"]] = f"its bytes are kept at {where}, not readable here"
            continue
        try:
            size = entry_path(config, entry["fingerprint"]).stat().st_size
        except OSError:
            out[entry["fingerprint"]] = "cached file is missing"
            continue
        if size != entry["bytes"]:
            out[entry["fingerprint"]] = f"cached file has {size} bytes, recorded {entry['bytes']}"
    return out


def unshare(config: Config) -> int:
    """Give every entry that still shares its inode with another file (a hard link an
    older version made to a published output) a copy of its own, so overwriting that
    output in place no longer changes the entry. One ``stat`` per entry; returns how many
    were copied (an entry that cannot be copied now stays as it is: ``problem`` still
    checks it before any use)."""
    folder = config.outputs_dir / FOLDER
    copied = 0
    try:
        paths = [Path(e.path) for e in os.scandir(folder) if e.name.endswith(".mp4") and not e.name.startswith(".")]
    except OSError:
        return 0
    for path in paths:
        try:
            if path.stat().st_nlink > 1:
                atomic.copy_file(path, path, suffix=".part")
                copied += 1
        except OSError:
            continue
    return copied


def remove(config: Config, fingerprint: str) -> None:
    entry_path(config, fingerprint).unlink(missing_ok=True)


def total_bytes(index: dict[str, dict]) -> int:
    return sum(e["bytes"] or 0 for e in index.values())
