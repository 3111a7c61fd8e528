"""The provider seam: the few verbs the apply engine needs from a video vendor.

Everything vendor-shaped (paths, signatures, error codes, state names) stays behind
this seam. What crosses it are the small typed values below, and the errors of
``reconciler.errors`` (TransientError / PermanentError / OutcomeUnknownError); no
httpx exception and no vendor dict escapes ``reconciler.providers``.

All verbs are async: one event loop drives every poll and download of an apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.model import VENDORS, Credentials  # noqa: F401 - Credentials re-exported for the vendor clients

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.media.verify import MediaInfo


class TaskState(StrEnum):
    """The one normalised vocabulary of a vendor task's state."""

    PENDING = "pending"  # accepted, queued (xingyun not_send/waiting, unisound waiting)
    RENDERING = "rendering"  # xingyun processing, unisound running
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Capabilities:
    can_cancel: bool  # else ``cancel`` raises, and a superseded render is abandoned
    one_shot_download: bool  # the output URL may be fetched only once: chooses the download mode
    max_concurrency: int  # concurrent requests to this vendor, per account

    @classmethod
    def of(cls, vendor: str, max_concurrency: int) -> Capabilities:
        """The capabilities ``model.VENDORS`` states for ``vendor``."""
        facts = VENDORS[vendor]
        return cls(can_cancel=facts.can_cancel, one_shot_download=facts.one_shot_download,
                   max_concurrency=max_concurrency)


@dataclass(frozen=True)
class RenderRequest:
    """What to render: the request body (as in DesiredVideo.request) and, for a
    Xingyun PPT video, the absolute path of the deck to upload first."""

    provider: str
    body: dict
    ppt_path: Path | None = None


def script_size(body: object) -> tuple[int, int]:
    """(characters, segments) of a create's script, what its render time grows with: the
    texts of Xingyun's ``segment`` list, or Unisound's one ``text``; (0, 0) for anything
    else (a PPT deck: its size is not in the request)."""
    if not isinstance(body, dict):
        return 0, 0
    segments = body.get("segment")
    if isinstance(segments, list):
        texts = [s.get("text") for s in segments if isinstance(s, dict)]
        return sum(len(t) for t in texts if isinstance(t, str)), len(segments)
    text = body.get("text")
    return (len(text), 1) if isinstance(text, str) else (0, 0)


@dataclass(frozen=True)
class SubmitResult:
    task_id: str


@dataclass(frozen=True)
class TaskStatus:
    task_id: str
    state: TaskState
    raw_state: str  # the vendor's own state word
    error: str | None = None  # vendor error text for failed tasks
    video_url: str | None = None
    preview_image_url: str | None = None
    finished_at: str | None = None  # ISO 8601, if the vendor says


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    bytes: int
    media: MediaInfo | None = None  # what its full decode measured (media.verify): set by every real download


class Provider(Protocol):
    name: str
    capabilities: Capabilities

    async def submit(self, request: RenderRequest) -> SubmitResult:
        """Start one paid render. Never retried after the request may have been sent:
        a lost answer raises OutcomeUnknownError."""

    async def status(self, task_id: str) -> TaskStatus: ...

    async def cancel(self, task_id: str) -> None:
        """Cancel an unfinished render. Raises PermanentError when not capable."""

    async def preview_url(self, task_id: str) -> str | None: ...

    async def download(self, url: str, dest: Path) -> DownloadResult:
        """Stream ``url`` to a temp file beside ``dest``, check length, sha256, fsync,
        rename. A one-shot URL is fetched exactly once, never probed."""

    async def aclose(self) -> None: ...
