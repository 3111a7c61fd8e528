"""Following one render: ask its state, record the answer, download its output.

Why a module of its own: what to do with each possible answer of a status call is
the part of an apply that runs most often and has the most branches, and each branch
has a rule about what must be written before the next step:

- still queued/rendering: ``record_task`` (if that is news) and poll again later;
- failed / cancelled at the vendor: ``record_task`` with the vendor's reason; done;
- finished: ``record_task`` (video URL, preview image URL, finish time, and that the
  download starts: what is at the output path before it), then the download into
  ``ctx.outputs.download_path`` (``outputs/<address>.mp4``, or a staging file under
  ``state/uploads/`` for a bucket) through the provider's atomic, verified download
  (an MP4 that decodes fully: a damaged one is a bad download, fetched again or, from a
  one-shot link, kept aside and lost with the reason), then (a bucket) the upload,
  confirmed, then ``record_output`` with the sha256 and the decode's measures, and
  the output kept in the render cache. An upload that fails is a local failure: the
  staged file stays and is adopted and uploaded by the next run. A crash in between leaves a finished render
  without an output, which the engine's ``track_unfinished`` picks up again; if the
  file was already renamed into place it is adopted (verified, hashed, recorded);
- a download that cannot be repeated (Unisound's one-shot URL) or a link the vendor
  no longer serves: ``render_output_lost``, so the next plan proposes a visible
  re-render (an older output of a replace stays published);
- a problem of this machine (disk full, a blocked path, a permission: ``exc.local``) is
  never a loss: it is reported with what to fix, and the render stays finished and
  not downloaded for the next ``refresh``/``apply``;
- a status call that fails: transient -> poll again later; "task not found" -> the
  render is recorded failed; any other permanent error (auth, ...) -> reported, and
  the render stays recorded as rendering for a later ``refresh``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.apply.events import Kind
from reconciler.apply.schedule import Tracked
from reconciler.errors import MediaError, PermanentError, ProviderError, ReconcilerError, StateError
from reconciler.media import verify
from reconciler.model import MediaFacts, Status
from reconciler.outputs import rules
from reconciler.providers.base import Provider, TaskState, TaskStatus
from reconciler.util.clock import iso_ago
from reconciler.util.crashpoint import crash_point

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.context import RunContext

DOWNLOAD_TRIES = 3  # downloads of a re-fetchable URL before the output counts as lost
DOWNLOAD_RETRY_DELAY = 2.0  # seconds before asking for a fresh URL after a failed download


async def poll(ctx: RunContext, item: Tracked) -> None:
    """One status call for ``item`` and everything its answer leads to."""
    async with ctx.lock(item.address):
        await _poll(ctx, item)


async def _poll(ctx: RunContext, item: Tracked) -> None:
    if ctx.tracker.get(item.address) is not item:
        ctx.tracker.release(item)  # replaced or deleted while waiting for the lock
        return
    try:
        provider = ctx.providers[item.provider]
        try:
            status = await provider.status(item.task_id)
        except PermanentError as exc:
            await _status_refused(ctx, item, exc)
            return
        except ProviderError as exc:
            item.polls += 1
            ctx.emit(Kind.POLL_ERROR, item.address, item.provider, item.task_id, f"{exc} (will poll again)")
            ctx.tracker.reschedule(item, ctx.clock(), retry_after=exc.retry_after)
            return
        item.polls += 1
        crash_point("after_poll")
        await _answer(ctx, provider, item, status)
    except ReconcilerError as exc:
        ctx.emit(Kind.ERROR, item.address, item.provider, item.task_id, str(exc))
        ctx.tracker.release(item)


async def _status_refused(ctx: RunContext, item: Tracked, exc: PermanentError) -> None:
    if _task_gone(item.provider, exc):
        await ctx.db(ctx.store.record_task, item.address, item.task_id, Status.FAILED, error=str(exc))
        ctx.emit(Kind.FAILED, item.address, item.provider, item.task_id, str(exc))
        ctx.manifest.changed()
    else:
        ctx.emit(Kind.ERROR, item.address, item.provider, item.task_id,
                    f"{exc} (still recorded as rendering: run `reconciler refresh` once this is fixed)")
    ctx.tracker.release(item)


def _task_gone(provider: str, exc: PermanentError) -> bool:
    """Whether the vendor says it does not know the task (it will never finish)."""
    from reconciler.providers import codes

    return exc.code is not None and codes.kind_of(provider, exc.code) == codes.NOT_FOUND


async def _answer(ctx: RunContext, provider: Provider, item: Tracked, status: TaskStatus) -> None:
    store, db, address, task_id = ctx.store, ctx.db, item.address, item.task_id
    if ctx.tracker.get(address) is not item:
        ctx.tracker.release(item)  # replaced or deleted while this call was in flight
        return
    item.queued = status.state is TaskState.PENDING  # still waiting to start: the schedule backs off
    if status.state in (TaskState.PENDING, TaskState.RENDERING):
        ctx.tracker.unfinished(item, ctx.clock())
        # Recorded as rendering since the create's answer: only a change is written (a
        # commit costs an fsync, and polls are most of an apply's calls).
        if item.recorded != Status.RENDERING:
            if not await db(store.record_task, address, task_id, Status.RENDERING):
                ctx.tracker.release(item)  # superseded meanwhile
                return
            item.recorded = Status.RENDERING
        if status.raw_state != item.raw_state:
            item.raw_state = status.raw_state
            ctx.emit(Kind.STATE, address, item.provider, task_id, status.raw_state or status.state.value)
        ctx.tracker.reschedule(item, ctx.clock())
        return
    if status.state in (TaskState.FAILED, TaskState.CANCELLED):
        failed = status.state is TaskState.FAILED
        error = status.error or ("the render failed (no reason given)" if failed else "cancelled at the vendor")
        if not await db(store.record_task, address, task_id, Status.FAILED if failed else Status.CANCELLED,
                           error=error):
            ctx.tracker.release(item)
            return
        ctx.emit(Kind.FAILED if failed else Kind.CANCELLED, address, item.provider, task_id, error)
        ctx.manifest.changed()
        ctx.tracker.release(item)
        return
    ended_ago = 0.0  # when it ended, as far as the polls tell: a vendor that does not say is recorded so
    if status.state is TaskState.FINISHED and item.recorded != Status.FINISHED:
        ended_ago = ctx.tracker.finished(item, ctx.clock())  # how long it took: when to poll the next ones
    dest = ctx.outputs.download_path(address)  # outputs/<address>.mp4, or staged under state/uploads/
    # only a render the state already held as finished can have a download to adopt
    if item.recorded == Status.FINISHED and (await _adopt(ctx, item, dest) or await _held_elsewhere(ctx, item)):
        return
    # only the vendor's image (Xingyun render_image_oss): its preview *page* URL is no image;
    # the download about to start is recorded with the answer (one commit): see ``download``
    if not await db(store.record_task, address, task_id, Status.FINISHED, video_url=status.video_url,
                    preview_image_url=status.preview_image_url, finished_at=status.finished_at or iso_ago(ended_ago),
                    downloading=True, download_prior=rules.download_mark(ctx.config, dest)):
        ctx.tracker.release(item)
        return
    ctx.manifest.changed()
    await download(ctx, provider, item, status.video_url, dest)


async def download(ctx: RunContext, provider: Provider, item: Tracked, url: str | None, dest: Path) -> None:
    """Fetch the output of a finished render into ``dest`` and publish it (or record it
    lost). The state already says which task's download starts and what was at ``dest``
    before it (``record_task(downloading=True)``), so a file renamed into place by a
    writer killed before ``record_output`` is adopted on the next run (``_adopt``)
    instead of being fetched (or lost) again."""
    address, task_id = item.address, item.task_id
    ctx.emit(Kind.DOWNLOADING, address, item.provider, task_id)
    try:
        result = await provider.download(url, dest)
    except ProviderError as exc:  # dest untouched: a later file there is not this download's
        await ctx.db(ctx.store.download_ended, address, task_id)
        await _download_failed(ctx, item, exc)
        return
    crash_point("after_download")
    await _store(ctx, item, result.path, result.sha256, result.bytes, result.media)


async def _store(ctx: RunContext, item: Tracked, path: Path, sha256: str, size: int,
                 media: MediaFacts | None) -> None:
    """Publish the verified file at ``path`` through the outputs store: in place already
    (a local folder), or uploaded and confirmed (a bucket) before the state records it.
    A store that fails is this machine's problem, never a loss: the staged file stays for
    the next run to adopt and upload (no second GET of the vendor's link, no second render)."""
    crash_point("after_stage")
    try:
        file = await asyncio.to_thread(ctx.outputs.store, item.address, path, sha256, size)
    except ReconcilerError as exc:  # OutputsError; ConfigError (no credentials)
        ctx.emit(Kind.ERROR, item.address, item.provider, item.task_id,
                 f"{exc}. The verified download is kept in {ctx.config.rel(path)} and nothing is lost: the next "
                 "`reconciler apply`/`refresh` (or watch cycle) uploads it; no new download or render is needed")
        ctx.tracker.release(item)
        return
    crash_point("after_upload")
    await _publish(ctx, item, file, sha256, size, media, staged=path)


async def _download_failed(ctx: RunContext, item: Tracked, exc: ProviderError) -> None:
    """A local problem: said, nothing lost (the next refresh/apply downloads it). A used
    one-shot URL, or a link the vendor no longer serves after ``DOWNLOAD_TRIES``: lost.
    A link that keeps failing otherwise: left finished and not downloaded, said."""
    if exc.local:
        ctx.emit(Kind.ERROR, item.address, item.provider, item.task_id, str(exc))
        ctx.tracker.release(item)
        return
    item.download_failures += 1
    if exc.output_lost:  # a one-shot URL was used up (a failure before any GET is transient)
        why = str(exc)
        if exc.kept is not None:
            where = rules.quarantine(ctx.config, exc.kept, item.address, item.task_id)
            why += f" The bytes received are kept in {where}."
        await _lost(ctx, item, why)
    elif item.download_failures < DOWNLOAD_TRIES:
        ctx.emit(Kind.POLL_ERROR, item.address, item.provider, item.task_id,
                 f"download failed: {exc} (will ask for a fresh URL)")
        ctx.tracker.reschedule(item, ctx.clock(), delay=DOWNLOAD_RETRY_DELAY)
    elif isinstance(exc, PermanentError):  # e.g. 403/404/410: the vendor no longer serves it
        await _lost(ctx, item, f"{exc} (gave up after {DOWNLOAD_TRIES} downloads)")
    else:
        ctx.emit(Kind.ERROR, item.address, item.provider, item.task_id,
                 f"{exc} (gave up after {DOWNLOAD_TRIES} downloads; the render stays finished and not "
                 "downloaded: run `reconciler refresh` later to fetch it, no new render is needed)")
        ctx.tracker.release(item)


async def _adopt(ctx: RunContext, item: Tracked, dest: Path) -> bool:
    """Publish a file that an earlier download of this task renamed into place before
    it could be recorded (verified as a video and hashed again). True if adopted."""
    started = await ctx.db(ctx.store.download_started, item.address)
    if started is None or started[0] != item.task_id:
        return False
    video = await ctx.db(ctx.store.get, item.address)
    found = await asyncio.to_thread(rules.adoptable, dest, started[1], video.output_sha256 if video else None)
    if found is None:
        return False
    sha256, size = found
    try:  # it decoded before its rename: measured again for the record (a damaged file since: fetched again)
        media = await asyncio.to_thread(verify.probe, dest)
    except MediaError:
        return False
    ctx.emit(Kind.DOWNLOADING, item.address, item.provider, item.task_id, ctx.outputs.adoption_note(dest))
    await _store(ctx, item, dest, sha256, size, media)
    return True


async def _held_elsewhere(ctx: RunContext, item: Tracked) -> bool:
    """Whether another checkout of a shared state (docs/team.md) started the one-shot
    download of this render and so holds its only copy (e.g. verified and waiting for its
    upload to a bucket that was unreachable there). Then this machine neither downloads it
    (the link serves once) nor counts it lost (a paid render): said, left to that machine."""
    if rules.refetchable(item.provider):
        return False
    started = await ctx.db(ctx.store.download_started, item.address)
    if started is None or started[0] != item.task_id:
        return False
    place, _ = rules.read_mark(started[1])
    if place is None or place == rules.this_place(ctx.config):
        return False
    ctx.emit(Kind.KEPT_ELSEWHERE, item.address, item.provider, item.task_id,
             f"its one-shot download was made on {place}, which keeps the only copy until it is published: "
             "run `reconciler apply` or `refresh` there; it is neither downloaded again nor rendered again here")
    ctx.tracker.release(item)
    return True


async def _publish(ctx: RunContext, item: Tracked, rel: str, sha256: str, size: int, media: MediaFacts | None, *,
                   staged: Path) -> None:
    before = await ctx.db(ctx.store.get, item.address)
    try:
        await ctx.db(ctx.store.record_output, item.address, item.task_id, rel, sha256, size, ctx.outputs.place(),
                     media)
    except StateError:
        ctx.outputs.discard(staged)  # superseded: this download is nobody's output now
        ctx.tracker.release(item)  # superseded while downloading: its successor will publish
        return
    await make_poster(ctx, item.address, item.provider, item.task_id, rel, staged)
    await _tidy(ctx, item, staged, before.output_file if before is not None else None, rel)
    await _keep_in_cache(ctx, item, rel, sha256, size)
    ctx.emit(Kind.FINISHED, item.address, item.provider, item.task_id, f"{rel} ({size} bytes)")
    ctx.manifest.changed()
    ctx.tracker.release(item)


async def make_poster(ctx: RunContext, address: str, provider: str, task_id: str | None, file: str,
                      video: Path | None = None) -> None:
    """The poster beside the published ``file`` (``outputs/<address>.jpg``, or the object
    beside it in a bucket), from ``video`` (its bytes here) if given. A poster is a
    picture of the output, not the output: a failure is a warning, the video stays published."""
    try:
        await asyncio.to_thread(ctx.outputs.poster, address, file, video)
    except (OSError, ReconcilerError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        ctx.emit(Kind.WARNING, address, provider, task_id, f"{file} is published, but its poster could not be made ({why})")


async def _tidy(ctx: RunContext, item: Tracked, staged: Path, previous: str | None, file: str) -> None:
    """After the state records ``file``: the outputs store tidies up (a bucket: the staged
    download goes, and a replaced object is removed). A failure here is said, not fatal: the new output is published."""
    try:
        await asyncio.to_thread(ctx.outputs.published, item.address, staged, previous, file)
    except (OSError, ReconcilerError) as exc:
        what = (f"the previous output {previous}" if previous and previous != file
                else f"the staged download {ctx.config.rel(staged)}")
        ctx.emit(Kind.WARNING, item.address, item.provider, item.task_id,
                 f"{file} is published, but {what} could not be removed ({exc}); delete it by hand")


async def _keep_in_cache(ctx: RunContext, item: Tracked, rel: str, sha256: str, size: int) -> None:
    """Every verified output is kept in the render cache under its fingerprint (docs/cache.md). A local failure here costs nothing now (the output is published): said, not fatal."""
    video = await ctx.db(ctx.store.get, item.address)
    if video is None or not video.output_fingerprint:
        return
    try:
        await asyncio.to_thread(ctx.outputs.cache_keep, video.output_fingerprint, rel)
    except (OSError, ReconcilerError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        ctx.emit(Kind.WARNING, item.address, item.provider, item.task_id,
                 f"could not keep {rel} in the render cache ({why}); it stays published")
        return
    await ctx.db(ctx.store.cache_put, video.output_fingerprint, provider=item.provider, task_id=item.task_id,
                 sha256=sha256, size=size, video_url=video.video_url, preview_image_url=video.preview_image_url,
                 location=ctx.outputs.cache_location(), media=video.output_media)


async def _lost(ctx: RunContext, item: Tracked, why: str) -> None:
    """The vendor can no longer give this render's output. An older output still
    published (a replace) stays published: only the new render is recorded failed."""
    video = await ctx.db(ctx.store.get, item.address)
    place = rules.kept_elsewhere(ctx.config, video) if video and video.output_task_id == item.task_id else None
    if place is not None:  # another checkout of a shared state has the file: not lost, never paid again
        ctx.emit(Kind.KEPT_ELSEWHERE, item.address, item.provider, item.task_id,
                 f"{why}; the output is kept on another machine ({place})")
        ctx.tracker.release(item)
        return
    await ctx.db(ctx.store.render_output_lost, item.address, item.task_id, why)
    ctx.emit(Kind.OUTPUT_LOST, item.address, item.provider, item.task_id,
             f"{why}; the next plan proposes to render it again")
    ctx.manifest.changed()
    ctx.tracker.release(item)
