"""The published outputs kept in step: ``refresh``'s check of each one, and the render
cache holding every one of them.

Why a module of its own: both walk every published output, each answer has a rule
(fetched again while the vendor can give it, lost only when it cannot, never lost for
a problem of this machine; kept in the cache so its content is never paid twice), and
neither is about carrying out a plan, which is the engine's job.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from reconciler.apply.events import Kind
from reconciler.errors import ReconcilerError
from reconciler.model import RecordedVideo
from reconciler.outputs import rules

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.context import RunContext


def keep_in_cache(ctx: RunContext) -> None:
    """Keep in the render cache every published output that is not there yet (its
    copy failed, or a writer was killed between publishing and keeping it, or the
    state predates the cache): the planner already counts such outputs as servable
    (``planner.published_fingerprints``). Called by ``Engine.recover``, on the state
    thread, before any change runs. A failure is said; it only costs a render
    if that content is asked for again before the next run retries."""
    cached = ctx.store.cached_fingerprints()
    recorded = ctx.store.recorded()
    missing = {v.output_fingerprint: v for v in recorded.values()
               if v.has_output and v.output_fingerprint and v.output_fingerprint not in cached}
    if not missing:
        return
    intact = ctx.outputs.notice_missing({v.address: v for v in missing.values()})
    for fingerprint, video in missing.items():
        if not intact[video.address].has_output:
            continue  # gone or damaged here: fetched again (or lost) as such, not cached
        try:
            ctx.outputs.cache_keep(fingerprint, video.output_file)
        except (OSError, ReconcilerError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            ctx.emit(Kind.WARNING, video.address, video.provider, video.output_task_id,
                     f"could not keep {video.output_file} in the render cache ({why}); it stays published")
            continue
        ctx.store.cache_put(fingerprint, provider=video.provider, task_id=video.output_task_id,
                            sha256=video.output_sha256, size=video.output_bytes, video_url=video.video_url,
                            preview_image_url=video.preview_image_url, location=ctx.outputs.cache_location(),
                            media=video.output_media)


def make_missing_posters(ctx: RunContext) -> None:
    """A poster for each published output in the outputs folder that has none (docs/outputs.md):
    one published before posters were, or whose run was killed between its record and its
    poster. Called by ``Engine.recover`` (a stat per output; a poster decodes one second of
    video; the outputs store says which lack one). A failure is said, never fatal."""
    for video in ctx.store.recorded().values():
        if not ctx.outputs.poster_missing(video):
            continue
        file = video.output_file
        try:
            ctx.outputs.poster(video.address, file)
        except (OSError, ReconcilerError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            ctx.emit(Kind.WARNING, video.address, video.provider, video.output_task_id,
                     f"{file} has no poster and none could be made ({why}); it stays published")


async def check(ctx: RunContext, parallelism: int) -> tuple[list[str], list[str]]:
    """Check every published output (hashed, or a HEAD per object in a bucket, off the
    event loop). One missing, changed or not a video is downloaded again while the
    vendor can give it (``rules.fetch_again``), else marked lost; one that cannot be
    read here (a permission, a bucket unreachable) is said, never lost. Returns the
    addresses lost, and those to download again now (tracked already)."""
    recorded = await ctx.db(ctx.store.recorded)
    damaged, unreadable = await asyncio.to_thread(_damaged, ctx, recorded, parallelism)
    for video, why in unreadable:
        ctx.emit(Kind.ERROR, video.address, video.provider, video.output_task_id,
                 f"{why}: run `reconciler refresh` again once fixed (not counted as lost)")
    lost = []
    damaged = [(video, why) for video, why in damaged if not ctx.other_account(video)]
    for video, why in damaged:
        place = rules.kept_elsewhere(ctx.config, video)
        if place and not rules.fetch_again(video) and why.endswith(" is missing"):
            ctx.emit(Kind.KEPT_ELSEWHERE, video.address, video.provider, video.output_task_id,
                     f"{why} here; the output is kept on another machine ({place}) and its one-shot link "
                     f"is used: nothing is rendered again")
            continue
        if rules.fetch_again(video):
            ctx.tracker.add(video.address, video.provider, video.task_id, ctx.clock(), immediate=True,
                            recorded=video.status)
            ctx.emit(Kind.TRACKING, video.address, video.provider, video.task_id,
                     f"{why}: downloading it again from the vendor")
            continue
        await ctx.db(ctx.store.mark_output_lost, video.address, f"output lost: {why}")
        ctx.emit(Kind.OUTPUT_LOST, video.address, video.provider, video.output_task_id,
                 f"{why}; the next plan proposes to render it again")
        lost.append(video.address)
    if lost:
        ctx.manifest.changed()
    return lost, [v.address for v, _ in damaged if rules.fetch_again(v)]


def _damaged(ctx: RunContext, recorded: dict[str, RecordedVideo], parallelism: int
             ) -> tuple[list[tuple[RecordedVideo, str]], list[tuple[RecordedVideo, str]]]:
    """(damaged outputs, outputs this machine cannot read), each with why. The outputs
    store runs the checks its way (a bucket's HEADs ``parallelism`` at a time)."""
    videos = [v for v in recorded.values() if v.has_output]
    results = ctx.outputs.map_checks(functools.partial(_check_one, ctx), videos, parallelism)
    damaged = [(v, why) for v, why, readable in results if readable and why is not None]
    unreadable = [(v, why) for v, why, readable in results if not readable]
    return damaged, unreadable


def _check_one(ctx: RunContext, video: RecordedVideo) -> tuple[RecordedVideo, str | None, bool]:
    """(video, why it is damaged or cannot be checked, whether it could be checked)."""
    try:
        return video, ctx.outputs.check(video), True
    except OSError as exc:
        return video, f"{video.output_file} cannot be read ({exc.strerror or exc}): fix its permissions", False
    except ReconcilerError as exc:  # the bucket unreachable, 403...: this machine's problem
        return video, f"{video.output_file} cannot be checked ({exc})", False
