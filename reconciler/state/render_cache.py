"""The render cache's files (CONTRACT §11): a verified output kept under its render
fingerprint, so the same content is never paid for twice.

Why a module of its own: the index lives in the state store (``Store.cache_*``), the
bytes live in the outputs store. Today that is ``<outputs>/.cache/<fingerprint>.mp4``
(hard-linked to the published file where possible, copied otherwise); a bucket
(CONTRACT §9) will implement these same few functions. Nothing else touches the files:

- ``keep`` puts a published, verified output into the cache;
- ``problem`` verifies an entry before use (size, sha256, that it is an MP4): a damaged
  entry is dropped by the caller, never served;
- ``publish`` puts an entry at ``outputs/<address>.mp4`` atomically (the state is
  written only after the file is in place);
- ``remove`` and ``total_bytes`` serve ``reconciler cache prune`` and ``status``.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.config import Config
from reconciler.util import atomic, mp4

FOLDER = ".cache"


def entry_path(config: Config, fingerprint: str) -> Path:
    return config.outputs_dir / FOLDER / f"{fingerprint}.mp4"


def keep(config: Config, fingerprint: str, published: Path) -> None:
    """Keep the published output ``published`` under ``fingerprint`` (OSError: the caller's)."""
    atomic.link_or_copy(published, entry_path(config, fingerprint))


def problem(config: Config, entry: dict) -> str | None:
    """Why the cached file of ``entry`` may not be served (gone, another size, changed
    bytes, not a video), or None if it is intact."""
    from reconciler.state.outputs import sha256_of

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


def publish(config: Config, fingerprint: str, dest: Path) -> None:
    """Put the cached output at ``dest`` atomically (OSError: a local failure to report)."""
    atomic.link_or_copy(entry_path(config, fingerprint), dest)


def remove(config: Config, fingerprint: str) -> None:
    entry_path(config, fingerprint).unlink(missing_ok=True)


def total_bytes(index: dict[str, dict]) -> int:
    return sum(e["bytes"] or 0 for e in index.values())
