"""The deck a PPT render uploads is exactly the deck that was fingerprinted.

Why a module of its own: the render fingerprint holds the sha256 of a video's
``ppt_file``, read when the specs were loaded; the upload happens later, maybe minutes
later in a long apply. A deck saved meanwhile would be rendered (and paid for) while
the state records the old fingerprint, and after reverting the deck the plan would
say all is well. So just before the create the deck is read once, hashed, compared
with the fingerprinted sha256, and those very bytes are what is uploaded: they are
written to a private snapshot (same file name, under the state folder) that the
provider reads. A deck that changed is refused before any intent is written: the
create is not sent and the next plan sees the new deck.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.model import DesiredVideo

PREFIX = ".deck-"  # private copies under the state folder, one folder per create in flight


class DeckError(ReconcilerError):
    """The deck on disk is not the one fingerprinted (edited, removed), or cannot be
    copied: the create is not sent."""


@contextmanager
def snapshot(config: Config, desired: DesiredVideo) -> Iterator[Path | None]:
    """The path of a private copy of ``desired``'s deck holding exactly the fingerprinted
    bytes, for as long as the block runs (None for a video without a deck)."""
    if not desired.ppt_file:
        yield None
        return
    source = config.inputs / desired.ppt_file
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise DeckError(f"{desired.ppt_file} cannot be read ({exc.strerror or exc}): the create was not sent; "
                          "run `reconciler plan` again") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != desired.ppt_sha256:
        raise DeckError(
            f"{desired.ppt_file} changed since the specs were read (sha256 {actual[:12]}…, planned "
            f"{(desired.ppt_sha256 or '')[:12]}…): the create was not sent; run `reconciler plan` and "
            "`reconciler apply` again to render the deck as it is now")
    folder = None
    try:
        folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=config.state_dir))
        path = folder / source.name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError as exc:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise DeckError(f"cannot copy {desired.ppt_file} into {config.rel(config.state_dir)}/ for the "
                        f"upload ({exc.strerror or exc}): the create was not sent; free disk space or fix "
                        "the permissions, then run `reconciler apply` again") from None
    try:
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(config: Config) -> None:
    """Remove the deck copies of a writer killed during a create. Only under the lock."""
    folder = config.state_dir
    if folder.is_dir():
        for path in folder.glob(f"{PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
