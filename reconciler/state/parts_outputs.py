"""The files of videos by parts and of captions, in the outputs folder or the bucket
(docs/parts.md): a published part fetched to this machine for the join, and caption
files published beside their video.

Why a module of its own: the join needs the parts' bytes on this machine wherever the
outputs live, and the caption files go where the video goes; the rest of the outputs
seam (``outputs_store``) publishes videos only. Like it, this is the one place that
knows both places: the layers above never touch the bucket or the folder's files.

- A folder: a part is read where it is published; captions are ``outputs/<address>.srt``
  and ``.vtt``, written atomically.
- A bucket: a part is streamed from its object into the staging folder, its sha256
  checked against the state's; a caption file is an object under the video's own
  folder named by its content (``<prefix>/<address>/<sha256>.vtt``), so a caption-only
  change never overwrites what a player has open, and the one it replaces is removed
  once the state records the new one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from reconciler.config import Config
from reconciler.errors import OutputsError
from reconciler.state import outputs
from reconciler.util import atomic

CONTENT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt"}
CAPTION_NAME = re.compile(r"^[0-9a-f]{64}\.(srt|vtt)$")
_CHUNK = 1 << 20


def local_file(config: Config, file: str) -> Path:
    """The path of a published file of the outputs folder (project-relative as recorded)."""
    return Path(os.path.normpath(config.root / file))


def fetch(where, config: Config, file: str, sha256: str | None, dest: Path) -> Path:
    """A path on this machine holding the published output ``file``: the file itself in
    a folder, else a copy streamed from the bucket into ``dest`` (sha256 checked).
    OutputsError when the bucket has no such object, or other bytes."""
    if not where.remote:
        return local_file(config, file)
    key = where.location.key_of(file)
    body = where.bucket.open_object(key) if key is not None else None
    if body is None:
        raise OutputsError(f"{file} is not in the {where.bucket.where}: run `reconciler refresh`")
    digest = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic.Replacement(dest, suffix=".part", durable=False) as out:  # a staging copy: made again if torn
        while chunk := body.read(_CHUNK):
            digest.update(chunk)
            out.file.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise OutputsError(f"{file} in the {where.bucket.where} is not the recorded bytes (sha256 differs): "
                               "run `reconciler refresh`")
    return dest


def publish_captions(where, config: Config, address: str, texts: dict[str, str]) -> dict[str, str]:
    """Publish each caption format's text beside ``address``'s video; {format: file}."""
    published = {}
    for fmt, text in sorted(texts.items()):
        data = text.encode("utf-8")
        if where.remote:
            key = where.location.key(address, f"{hashlib.sha256(data).hexdigest()}.{fmt}")
            where.bucket.put_bytes(key, data, CONTENT_TYPES[fmt])
            published[fmt] = where.location.object_url(key)
        else:
            path = outputs.output_path(config, address).with_suffix(f".{fmt}")
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.atomic_write_bytes(path, data)
            published[fmt] = outputs.relative(config, path)
    return published


def remove_captions(where, config: Config, address: str, files: dict[str, str],
                    keep: dict[str, str] | None = None) -> list[str]:
    """Remove caption files of ``address`` (those not in ``keep``); the files removed.
    Only a caption file of that video: never anything else a state row might name."""
    kept = set((keep or {}).values())
    removed = []
    for file in files.values():
        if file in kept:
            continue
        if where.remote:
            key = where.location.key_of(file)
            if key is None or not key.startswith(where.location.key(address) + "/") \
                    or not CAPTION_NAME.match(key.rpartition("/")[2]):
                continue
            where.bucket.delete(key)
            removed.append(file)
        else:
            path = local_file(config, file)
            if path.suffix[1:] in CONTENT_TYPES and path.with_suffix(outputs.SUFFIX) == \
                    outputs.output_path(config, address) and path.is_file():
                path.unlink()
                removed.append(file)
    return removed
