"""Carrying out one Change: create, replace, update or delete a video.

Why a module of its own: this is where money is spent, so the order of writes around
each paid call is spelled out here and nowhere else (ARCHITECTURE habit 9):

1. ``begin_attempt`` writes the intent, in its own transaction, *before* the create;
2. the create is sent once (the provider never re-sends it once it may have left);
3. the answer is recorded the moment it arrives: ``attempt_submitted`` (task id),
   ``attempt_failed`` (a definite refusal), ``attempt_failed(status=UNKNOWN)`` (the
   answer was lost: maybe paid for, never re-sent in this run), or
   ``attempt_not_sent`` (the request certainly never left this machine).

A crash between 1 and 3 leaves the intent ``pending``; the next lock holder turns it
into ``unknown`` (``Store.recover``), so a render is never silently paid twice.

A replace starts the new render first and only then cancels the old unfinished one
(Xingyun) or abandons it (Unisound has no cancel API); the old output stays published
until the new one is downloaded. A delete cancels/abandons, forgets the video and
removes its managed output file, or its objects in a bucket unless
``keep_deleted_outputs`` (its render-cache entry stays; a removal that fails is said,
not fatal). A create or replace the
plan marked ``from_cache`` publishes the cached output instead (``from_cache``); a
damaged or missing entry is dropped and the video is *not* rendered (its plan counted no
render): said, exit 1, the next plan shows the render. An update touches state only. Each function takes
a ``context.RunContext`` (store, providers, tracker, events, manifest), never the
engine; ``run`` returns the action it carried out, for the engine's summary.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from reconciler.apply import decks, follow
from reconciler.apply.events import Kind
from reconciler.errors import OutcomeUnknownError, ProviderError, ReconcilerError
from reconciler.model import Action, Change, DesiredVideo, Status, display_name
from reconciler.outputs.base import CacheDamaged
from reconciler.providers.base import RenderRequest
from reconciler.util.crashpoint import crash_point

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.context import RunContext

SUBMITTED, REFUSED, UNKNOWN, NOT_SENT = "submitted", "refused", "unknown", "not_sent"
INTERRUPTED = ("interrupted while the create was in flight: it may have been sent (and paid for); "
               "its answer was never recorded")


async def run(ctx: RunContext, change: Change) -> Action | None:
    """Carry out ``change`` (not a noop); the action carried out, None if the vendor
    did not start a render (refused, unknown, not sent)."""
    if change.action is Action.UPDATE:
        await update(ctx, change)
        return Action.UPDATE
    if change.action is Action.DELETE:
        await delete(ctx, change)
        return Action.DELETE
    if change.action in (Action.CREATE, Action.REPLACE):
        old = change.recorded
        if change.from_cache:
            served = await from_cache(ctx, change.desired, old.output_file if old is not None else None,
                                      change.same_as)
            if served and old is not None and old.unfinished and old.task_id:
                await supersede(ctx, old.address, old.provider, old.task_id)
            return change.action if served else None
        outcome = await submit(ctx, change.desired, change.action)
        if outcome != NOT_SENT and old is not None and old.unfinished and old.task_id:
            await supersede(ctx, old.address, old.provider, old.task_id)
        return change.action if outcome == SUBMITTED else None
    return None


async def _remove_outputs(ctx: RunContext, address: str, recorded_file: str | None) -> list[str]:
    """Delete a deleted video's output (a local file, or objects in a bucket: off the loop)."""
    return await asyncio.to_thread(ctx.outputs.remove, address, recorded_file)


def moved_only(change: Change) -> bool:
    """A noop whose video now lives in another spec file (docs/specs.md: not a change)."""
    d, r = change.desired, change.recorded
    return change.action is Action.NOOP and d is not None and r is not None and d.spec_file != r.spec_file


async def record_move(ctx: RunContext, change: Change) -> None:
    """Note the new spec file of a moved video: state and manifest only, no vendor call."""
    d, r = change.desired, change.recorded
    await ctx.db(ctx.store.update_metadata, d.address, labels=r.labels,
                    prevent_destroy=r.prevent_destroy, spec_file=d.spec_file)
    ctx.emit(Kind.MOVED, d.address, d.provider, detail=f"now in {d.spec_file} (was {r.spec_file})")
    ctx.manifest.changed()


def calls_vendor(change: Change) -> bool:
    """Whether carrying out ``change`` calls its vendor (a create, or a cancel)."""
    r = change.recorded
    if change.action in (Action.CREATE, Action.REPLACE):
        return not change.from_cache or (r is not None and r.unfinished and r.task_id is not None)
    return change.action is Action.DELETE and r is not None and r.unfinished and r.task_id is not None


async def from_cache(ctx: RunContext, desired: DesiredVideo, previous: str | None = None,
                     same_as: str | None = None) -> bool:
    """Serve ``desired`` from the render cache (docs/cache.md): verify the entry, put a
    copy at the address's output atomically (a file at ``outputs/<address>.mp4``, its
    sha256 checked on the copy, or a server-side copy in the bucket), then record it
    (state, manifest): no vendor call. True when served. False when not, said: a local
    failure (nothing rendered or recorded: fix it and apply again), or an entry gone,
    damaged or kept where this checkout cannot read it, with no intact published output
    of the same content to keep it again from: then the video is *not* rendered, since
    the plan counted no render for it (docs/cache.md: an apply never pays more renders
    than its plan counted); the next plan shows the render and its cost. ``same_as``:
    the address of this plan whose render serves it (``planner._render_once``).
    ``previous``: the output a replace supersedes (removed from a bucket once the new
    one is recorded)."""
    address, fingerprint = desired.address, desired.fingerprint
    entry = (await ctx.db(ctx.store.cache_index)).get(fingerprint)
    try:
        why = await _unusable(ctx, entry)
        if why is not None:
            entry = await _keep_again(ctx, fingerprint)
    except ReconcilerError as exc:  # the bucket unreachable: never a reason to pay for a render
        ctx.emit(Kind.ERROR, address, desired.provider,
                 detail=f"could not check the render cache ({exc}); nothing was rendered or recorded: apply again "
                        "once the bucket answers")
        return False
    if entry is None:
        ctx.emit(Kind.ERROR, address, desired.provider, detail=_not_rendered(why, same_as))
        return False
    try:
        rel = await asyncio.to_thread(ctx.outputs.cache_publish, fingerprint, address, entry)
    except CacheDamaged as exc:
        await _drop(ctx, fingerprint)
        ctx.emit(Kind.ERROR, address, desired.provider, detail=_not_rendered(f"{exc}; entry dropped", same_as))
        return False
    except (OSError, ReconcilerError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        ctx.emit(Kind.ERROR, address, desired.provider,
                 detail=f"could not put the cached output at {ctx.outputs.target(address)} ({why}); nothing was "
                        f"rendered or recorded: fix {ctx.outputs.fix} and apply again")
        return False
    crash_point("after_cache_publish")
    await ctx.db(ctx.store.publish_cached, desired, entry, rel, ctx.outputs.place())
    await follow.make_poster(ctx, address, desired.provider, entry.get("task_id"), rel)
    try:  # a bucket: a superseded render's staged download, and the replaced object, go
        await asyncio.to_thread(ctx.outputs.published, address, ctx.outputs.download_path(address), previous, rel)
    except (OSError, ReconcilerError) as exc:
        ctx.emit(Kind.WARNING, address, desired.provider,
                 detail=f"the previous output {previous} could not be removed ({exc})")
    ctx.tracker.discard(address)
    source = f"the render of {same_as}" if same_as else "the render cache"
    ctx.emit(Kind.FINISHED, address, desired.provider, entry.get("task_id"),
             f"{rel} ({entry['bytes']} bytes) from {source}: no render")
    ctx.manifest.changed()
    return True


async def _unusable(ctx: RunContext, entry: dict | None) -> str | None:
    """Why ``entry`` cannot be served here (None: it can). One kept where this checkout
    cannot read it stays indexed (another checkout's); a damaged one is dropped."""
    if entry is None:
        return "it is not in the render cache"
    where = entry.get("location")
    if where is not None and where != ctx.outputs.cache_location():
        return f"its bytes are kept at {where}, which this checkout cannot read"
    why = await asyncio.to_thread(ctx.outputs.cache_problem, entry)
    if why is not None:
        await _drop(ctx, entry["fingerprint"])
        why += "; entry dropped"
    return why


async def _drop(ctx: RunContext, fingerprint: str) -> None:
    await ctx.db(ctx.store.cache_drop, fingerprint)
    with contextlib.suppress(OSError, ReconcilerError):
        await asyncio.to_thread(ctx.outputs.cache_remove, fingerprint)


async def _keep_again(ctx: RunContext, fingerprint: str) -> dict | None:
    """The cache entry of ``fingerprint`` kept again from an intact published output of
    that content here (the plan counted such an output as servable:
    ``planner.published_fingerprints``); None if there is none."""
    place = ctx.outputs.place()
    for video in (await ctx.db(ctx.store.recorded)).values():
        if not (video.has_output and video.output_fingerprint == fingerprint
                and (place is None or video.output_place in (None, place))):
            continue
        try:
            if await asyncio.to_thread(ctx.outputs.check, video) is not None:
                continue  # gone or changed here: refresh deals with it
            await asyncio.to_thread(ctx.outputs.cache_keep, fingerprint, video.output_file)
        except (OSError, ReconcilerError):
            continue
        await ctx.db(ctx.store.cache_put, fingerprint, provider=video.provider, task_id=video.output_task_id,
                     sha256=video.output_sha256, size=video.output_bytes, video_url=video.video_url,
                     preview_image_url=video.preview_image_url, location=ctx.outputs.cache_location(),
                     media=video.output_media)
        return (await ctx.db(ctx.store.cache_index)).get(fingerprint)
    return None


def _not_rendered(why: str, same_as: str | None) -> str:
    """The error of a change the plan counted as free that cannot be served now."""
    if same_as is None:
        what = f"the plan counted it as served from the render cache, which cannot serve it now ({why})"
    else:
        what = (f"the plan counted one render for this content, made for {same_as}, and that render has no "
                f"verified output to serve it from ({why})")
    return (f"not rendered: {what}. Rendering it now would be a paid render the plan did not count: run "
            "`reconciler plan` to see the render and its cost, then apply again")


async def submit(ctx: RunContext, desired: DesiredVideo, action: Action) -> str:
    """Intent, one create, its answer recorded. Returns SUBMITTED/REFUSED/UNKNOWN/NOT_SENT.

    A PPT video uploads a private copy of exactly the deck bytes that were fingerprinted
    (``decks.snapshot``); a deck changed since the specs were read is not sent, and
    nothing is written."""
    try:
        with decks.snapshot(ctx.config, desired) as ppt:
            request = RenderRequest(provider=desired.provider, body=desired.request, ppt_path=ppt)
            return await _submit(ctx, desired, action, request)
    except decks.DeckError as exc:
        return _answered(ctx, Kind.NOT_SENT, desired, str(exc), NOT_SENT)


async def _submit(ctx: RunContext, desired: DesiredVideo, action: Action, request: RenderRequest) -> str:
    store, address, db = ctx.store, desired.address, ctx.db
    provider = ctx.providers[desired.provider]
    attempt = await db(store.begin_attempt, desired, ctx.holder, ctx.account(desired.provider))
    ctx.emit(Kind.SUBMITTING, address, desired.provider, detail=action.value)
    crash_point("after_intent")
    try:
        result = await provider.submit(request)
    except OutcomeUnknownError as exc:
        await db(store.attempt_failed, address, attempt, str(exc), status=Status.UNKNOWN)
        return _answered(ctx, Kind.UNKNOWN, desired, str(exc), UNKNOWN)
    except ProviderError as exc:
        if never_sent(exc):
            await db(store.attempt_not_sent, address, attempt, str(exc))
            return _answered(ctx, Kind.NOT_SENT, desired, str(exc), NOT_SENT)
        await db(store.attempt_failed, address, attempt, str(exc))
        return _answered(ctx, Kind.REJECTED, desired, str(exc), REFUSED)
    except asyncio.CancelledError:  # recorded at once, on this thread: we are being torn down
        store.attempt_failed(address, attempt, INTERRUPTED, status=Status.UNKNOWN)
        _answered(ctx, Kind.UNKNOWN, desired, INTERRUPTED, UNKNOWN)
        raise
    await db(store.attempt_submitted, address, attempt, result.task_id)
    crash_point("after_submit")
    ctx.emit(Kind.SUBMITTED, address, desired.provider, result.task_id)
    ctx.track(address, desired.provider, result.task_id, request.body)
    ctx.manifest.changed()
    return SUBMITTED


def _answered(ctx: RunContext, kind: Kind, desired: DesiredVideo, detail: str, outcome: str) -> str:
    ctx.emit(kind, desired.address, desired.provider, detail=detail)
    ctx.manifest.changed()
    return outcome


def never_sent(exc: ProviderError) -> bool:
    """Whether a failed create certainly never left this machine (the connection was
    not even opened): the provider says so with ``exc.sent``."""
    return exc.sent is False


async def supersede(ctx: RunContext, address: str, provider_name: str, task_id: str) -> None:
    """An old render left behind by a replace or delete: cancel it where the vendor can,
    else abandon it; record which, and say so."""
    ctx.tracker.discard(address, task_id)
    provider = ctx.providers[provider_name]
    if not provider.capabilities.can_cancel:
        why = f"{display_name(provider_name)} has no cancel API"
        outcome, kind, detail = "abandoned", Kind.OLD_ABANDONED, f"{why}: the old render was abandoned (it may still be billed)"
    else:
        try:
            await provider.cancel(task_id)
            outcome, kind, detail = "cancelled", Kind.OLD_CANCELLED, "the old render was cancelled"
        except ProviderError as exc:
            outcome, kind, detail = "abandoned", Kind.OLD_ABANDONED, f"could not cancel the old render, abandoned it: {exc}"
    await ctx.db(ctx.store.record_superseded, address, task_id, outcome)
    ctx.emit(kind, address, provider_name, task_id, detail)


async def update(ctx: RunContext, change: Change) -> None:
    """Labels / prevent_destroy / spec file: state and manifest only, no vendor call."""
    d = change.desired
    await ctx.db(ctx.store.update_metadata, d.address, labels=d.labels, prevent_destroy=d.prevent_destroy,
                       spec_file=d.spec_file)
    ctx.emit(Kind.UPDATED, d.address, d.provider, detail=change.reason)
    ctx.manifest.changed()


async def delete(ctx: RunContext, change: Change) -> None:
    """Cancel/abandon an unfinished render, forget the video, remove its managed output."""
    r = change.recorded
    if r.unfinished and r.task_id:
        await supersede(ctx, r.address, r.provider, r.task_id)
    ctx.tracker.discard(r.address)
    await ctx.db(ctx.store.remove, r.address)
    ctx.manifest.changed()
    detail = "removed from state and manifest"
    try:
        removed = await _remove_outputs(ctx, r.address, r.output_file)
        detail += f"; deleted {', '.join(removed)}" if removed else ""
    except (OSError, ReconcilerError) as exc:  # said, not fatal: the video is gone from the manifest
        detail += f"; its output could not be deleted ({exc}): delete it by hand"
    if r.status is Status.UNKNOWN:
        detail += "; a render its unanswered create may have started cannot be cancelled"
    ctx.emit(Kind.DELETED, r.address, r.provider, detail=detail)
