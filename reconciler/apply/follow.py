"""Following one render: ask its state, record the answer, download its output.

Why a module of its own: what to do with each possible answer of a status call is
the part of an apply that runs most often and has the most branches, and each branch
has a rule about what must be written before the next step:

- still queued/rendering: ``record_task`` (if that is news) and poll again later;
- failed / cancelled at the vendor: ``record_task`` with the vendor's reason; done;
- finished: ``record_task`` (video URL, preview image URL, finish time), then the
  download into ``outputs/<address>.mp4`` through the provider's atomic download,
  then ``record_output`` with the verified sha256. A crash in between leaves a
  finished render without an output, which ``Engine.track_unfinished`` picks up again;
- a download that cannot be repeated (Unisound's one-shot URL) or keeps failing:
  ``mark_output_lost``, so the next plan proposes a visible re-render;
- a status call that fails: transient -> poll again later; "task not found" -> the
  render is recorded failed; any other permanent error (auth, ...) -> reported, and
  the render stays recorded as rendering for a later ``refresh``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.state import outputs
from reconciler.errors import PermanentError, ProviderError, ReconcilerError, StateError
from reconciler.apply.events import Kind
from reconciler.util.crashpoint import crash_point
from reconciler.model import Status
from reconciler.apply.schedule import Tracked
from reconciler.providers.base import Provider, TaskState, TaskStatus
from reconciler.util.clock import iso_now

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.engine import Engine

DOWNLOAD_TRIES = 3  # downloads of a re-fetchable URL before the output counts as lost
DOWNLOAD_RETRY_DELAY = 2.0  # seconds before asking for a fresh URL after a failed download


async def poll(engine: Engine, item: Tracked) -> None:
    """One status call for ``item`` and everything its answer leads to."""
    async with engine.lock(item.address):
        await _poll(engine, item)


async def _poll(engine: Engine, item: Tracked) -> None:
    if engine.tracker.get(item.address) is not item:
        engine.tracker.release(item)  # replaced or deleted while waiting for the lock
        return
    try:
        provider = engine.providers[item.provider]
        try:
            status = await provider.status(item.task_id)
        except PermanentError as exc:
            await _status_refused(engine, item, exc)
            return
        except ProviderError as exc:
            item.polls += 1
            engine.emit(Kind.POLL_ERROR, item.address, item.provider, item.task_id, f"{exc} (will poll again)")
            engine.tracker.reschedule(item, engine.clock())
            return
        item.polls += 1
        crash_point("after_poll")
        await _answer(engine, provider, item, status)
    except ReconcilerError as exc:
        engine.emit(Kind.ERROR, item.address, item.provider, item.task_id, str(exc))
        engine.tracker.release(item)


async def _status_refused(engine: Engine, item: Tracked, exc: PermanentError) -> None:
    if _task_gone(item.provider, exc):
        await engine.db(engine.store.record_task, item.address, item.task_id, Status.FAILED, error=str(exc))
        engine.emit(Kind.FAILED, item.address, item.provider, item.task_id, str(exc))
        engine.manifest.changed()
    else:
        engine.emit(Kind.ERROR, item.address, item.provider, item.task_id,
                    f"{exc} (still recorded as rendering: run `reconciler refresh` once this is fixed)")
    engine.tracker.release(item)


def _task_gone(provider: str, exc: PermanentError) -> bool:
    """Whether the vendor says it does not know the task (it will never finish)."""
    from reconciler.providers import codes

    return exc.code is not None and codes.kind_of(provider, exc.code) == codes.NOT_FOUND


async def _answer(engine: Engine, provider: Provider, item: Tracked, status: TaskStatus) -> None:
    store, db, address, task_id = engine.store, engine.db, item.address, item.task_id
    if engine.tracker.get(address) is not item:
        engine.tracker.release(item)  # replaced or deleted while this call was in flight
        return
    if status.state in (TaskState.PENDING, TaskState.RENDERING):
        # Recorded as rendering since the create's answer: only a change is written (a
        # commit costs an fsync, and polls are most of an apply's calls).
        if item.recorded != Status.RENDERING:
            if not await db(store.record_task, address, task_id, Status.RENDERING):
                engine.tracker.release(item)  # superseded meanwhile
                return
            item.recorded = Status.RENDERING
        if status.raw_state != item.raw_state:
            item.raw_state = status.raw_state
            engine.emit(Kind.STATE, address, item.provider, task_id, status.raw_state or status.state.value)
        engine.tracker.reschedule(item, engine.clock())
        return
    if status.state in (TaskState.FAILED, TaskState.CANCELLED):
        failed = status.state is TaskState.FAILED
        error = status.error or ("the render failed (no reason given)" if failed else "cancelled at the vendor")
        if not await db(store.record_task, address, task_id, Status.FAILED if failed else Status.CANCELLED,
                           error=error):
            engine.tracker.release(item)
            return
        engine.emit(Kind.FAILED if failed else Kind.CANCELLED, address, item.provider, task_id, error)
        engine.manifest.changed()
        engine.tracker.release(item)
        return
    # only the vendor's image (Xingyun render_image_oss): its preview *page* URL is no image
    if not await db(store.record_task, address, task_id, Status.FINISHED, video_url=status.video_url,
                       preview_image_url=status.preview_image_url, finished_at=status.finished_at or iso_now()):
        engine.tracker.release(item)
        return
    engine.manifest.changed()
    await download(engine, provider, item, status.video_url)


async def download(engine: Engine, provider: Provider, item: Tracked, url: str | None) -> None:
    """Fetch the output of a finished render and publish it (or record it lost)."""
    address = item.address
    engine.emit(Kind.DOWNLOADING, address, item.provider, item.task_id)
    dest = outputs.output_path(engine.config, address)
    try:
        result = await provider.download(url, dest)
    except ProviderError as exc:
        item.download_failures += 1
        if exc.code == "output_lost":  # a one-shot URL was used up (a failure before any GET is transient)
            await _lost(engine, item, str(exc))
        elif item.download_failures >= DOWNLOAD_TRIES:
            await _lost(engine, item, f"{exc} (gave up after {DOWNLOAD_TRIES} downloads)")
        else:
            engine.emit(Kind.POLL_ERROR, address, item.provider, item.task_id,
                        f"download failed: {exc} (will ask for a fresh URL)")
            engine.tracker.reschedule(item, engine.clock(), delay=DOWNLOAD_RETRY_DELAY)
        return
    crash_point("after_download")
    rel = outputs.relative(engine.config, result.path)
    try:
        await engine.db(engine.store.record_output, address, item.task_id, rel, result.sha256, result.bytes)
    except StateError:
        engine.tracker.release(item)  # superseded while downloading: its successor will publish
        return
    engine.emit(Kind.FINISHED, address, item.provider, item.task_id, f"{rel} ({result.bytes} bytes)")
    engine.manifest.changed()
    engine.tracker.release(item)


async def _lost(engine: Engine, item: Tracked, why: str) -> None:
    await engine.db(engine.store.mark_output_lost, item.address, why)
    engine.emit(Kind.OUTPUT_LOST, item.address, item.provider, item.task_id,
                f"{why}; the next plan proposes to render it again")
    engine.manifest.changed()
    engine.tracker.release(item)
