"""The sha256 of a file: the one routine that hashes a file on disk (an output, a
cached render, a deck). Bytes already in memory use ``hashlib.sha256(data)``; a stream
being written hashes as it goes (``providers/download``, ``outputs migrate``)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """The hex sha256 of the file at ``path``, read in blocks (OSError if unreadable)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
