"""Carrying out a video by parts, and the caption files of any video (docs/parts.md).

Each part is a render of its own, recorded under its own address
(``model.part_address``): the engine carries out the parts' changes exactly as it
carries out whole videos' (``sub_changes``: intent before the create, an ``unknown``
never re-sent, one-shot downloads, a local failure never a loss, stalls, the render
cache), so every rule of a whole render holds per part. When every part of the video
has a verified output (``progress``), ``join`` joins them in order
(``media.join``) into a staging file under ``state/joins/``, decodes the result in full
(``media.verify``), writes the caption files, and only then publishes it at
``outputs/<address>.mp4`` (one rename: the old output stays published until then) and
records it (``Store.record_joined``). With outputs in a bucket the parts are fetched
into the staging folder first (``OutputsStore.local_copy``, sha256 checked) and the
join is published like any download (``OutputsStore.store``: a rename into the folder, or
an upload); caption files are the store's sidecars (``publish_sidecar``). A run killed mid-join leaves the state as it was:
the next plan shows the video's replace again with no render (its parts are all
rendered), and that run joins it. A part followed in this run is waited for (an event
of the engine per part wakes the video: ``Engine._renders_of``); one that cannot give an
output now (failed, lost, unknown) leaves the video unjoined and said, the old output
published, and the next plan renders that part only.

Captions (``captions: [srt, vtt]``) are timed from the script and the parts' measured
durations (``media.captions``), and written beside the video; a whole video's single
part is the video itself. A caption-only change (``write_captions``) never calls a vendor.
PyAV is imported only by the functions that decode (``media``), never by a plan.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.apply.events import Kind
from reconciler.errors import MediaError, ReconcilerError
from reconciler.model import Action, Change, DesiredVideo, RecordedVideo, Status, part_address
from reconciler.util.crashpoint import crash_point
from reconciler.util.digest import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.context import RunContext

DONE, WAITING = "done", "waiting"


def by_parts(change: Change) -> bool:
    """Whether the engine carries ``change`` out here: a video by parts, or one whose old parts go."""
    d = change.desired
    return bool(change.parts) or (d is not None and bool(d.parts))


def captions_due(change: Change) -> bool:
    """Whether a whole video's caption files are written (or removed) after ``change``."""
    d, r = change.desired, change.recorded
    return (d is not None and change.action is not Action.NOOP and not d.parts
            and (bool(d.captions) or (r is not None and bool(r.captions))))


def sub_changes(change: Change) -> list[Change]:
    """The changes of ``change``'s parts that do something, each a whole video's change
    at the part's address (a part's request body: ``specs.parts.part_requests``)."""
    from reconciler.specs.parts import part_requests

    d = change.desired
    bodies = part_requests(d.provider, d.request, d.split) if d is not None and d.parts else []
    out = []
    for p in change.parts:
        if p.action is Action.NOOP:
            continue
        if p.action is Action.DELETE:
            out.append(Change(p.address, Action.DELETE, change.provider, p.reason, change.file, None, p.recorded))
            continue
        part = DesiredVideo(p.address, d.provider, bodies[p.index], p.fingerprint, d.spec_file, d.line,
                            tts_chars=p.tts_chars)
        out.append(Change(p.address, p.action, d.provider, p.reason, d.spec_file, part, p.recorded,
                          from_cache=p.from_cache))
    return out


def _settled_as(ctx: RunContext, address: str, fingerprint: str, r: RecordedVideo | None) -> str:
    """DONE, WAITING, or why this part (or whole video) will not give an output in this run."""
    if r is not None and r.has_output and r.output_fingerprint == fingerprint:
        return DONE
    if ctx.tracker.get(address) is not None:  # followed now: its state is not the last word yet
        return WAITING
    if r is None or r.fingerprint != fingerprint:
        return "its render was not started"
    if r.status is Status.UNKNOWN:
        return "its create's outcome is unknown"
    if r.status in (Status.FAILED, Status.CANCELLED):
        return f"its render {r.status.value}: {r.error or 'no reason given'}"
    if r.unfinished:  # a new render of a part whose last output was lost: the flag outlives it
        return WAITING
    if r.output_lost:
        return f"its output is lost: {r.error or 'no reason given'}"
    return WAITING


async def progress(ctx: RunContext, d: DesiredVideo) -> tuple[str, list[RecordedVideo]]:
    """(DONE | WAITING | why not, the rows): where the renders ``d`` is made of stand."""
    if not d.parts:
        r = await ctx.db(ctx.store.get, d.address)
        return _settled_as(ctx, d.address, d.fingerprint, r), [r]
    rows, states = [], []
    for i, (fingerprint, _) in enumerate(d.parts):
        address = part_address(d.address, i)
        r = await ctx.db(ctx.store.get, address)
        rows.append(r)
        state = _settled_as(ctx, address, fingerprint, r)
        if state not in (DONE, WAITING):
            return f"part {i + 1} of {len(d.parts)}: {state}", rows
        states.append(state)
    return (DONE if all(s == DONE for s in states) else WAITING), rows


def waiting_on(ctx: RunContext, d: DesiredVideo) -> bool:
    """Whether any render ``d`` waits for is followed in this run."""
    if not d.parts:
        return ctx.tracker.get(d.address) is not None
    return any(ctx.tracker.get(part_address(d.address, i)) is not None for i in range(len(d.parts)))


def scripts(d: DesiredVideo) -> list[str]:
    """What each part says (a whole video: one script), for the captions."""
    from reconciler.specs.parts import part_requests

    bodies = part_requests(d.provider, d.request, d.split) if d.parts else [d.request]
    return ["\n".join(s["text"] for s in body.get("segment") or ()) if "segment" in body else body.get("text", "")
            for body in bodies]


def caption_texts(d: DesiredVideo, durations: list[float]) -> dict[str, str]:
    """Each caption format of ``d`` as text, timed by the parts' ``durations``."""
    from reconciler.media import captions

    cue_list = captions.cues(list(zip(scripts(d), durations)))
    return {fmt: (captions.srt if fmt == "srt" else captions.vtt)(cue_list) for fmt in d.captions}


def _staging(ctx: RunContext, address: str) -> Path:
    return ctx.config.state_dir / "joins" / address


def _join_now(ctx: RunContext, d: DesiredVideo, rows: list[RecordedVideo]):
    """Fetch the parts (a bucket's), join, verify, publish the captions and the video
    (off the loop). Returns what ``record_joined`` takes, and the joined file's facts."""
    from reconciler.media import join as media_join
    from reconciler.media import verify

    staging = _staging(ctx, d.address)
    shutil.rmtree(staging, ignore_errors=True)  # a killed join's leftovers
    files = [ctx.outputs.local_copy(r.output_file, r.output_sha256, staging / f"{i + 1:02d}.mp4")
             for i, r in enumerate(rows)]
    joined_path = staging / "joined.mp4"
    joined = media_join.join(files, joined_path)
    info = verify.probe(joined_path)
    starts = list(joined.starts_s)
    durations = [b - a for a, b in zip(starts, starts[1:] + [joined.duration_s])]
    crash_point("after_join")
    written = _publish_captions(ctx, d, durations)
    sha256, size = file_sha256(joined_path), joined_path.stat().st_size
    file = ctx.outputs.store(d.address, joined_path, sha256, size)  # a rename into the folder, or an upload
    parts = [{"task_id": r.output_task_id, "fingerprint": r.output_fingerprint, "start_s": round(start, 3),
              "duration_s": round(length, 3)} for r, start, length in zip(rows, starts, durations)]
    return file, sha256, size, parts, written, info


def _tidy(ctx: RunContext, d: DesiredVideo, before: RecordedVideo | None, file: str, written: dict) -> None:
    """After the state records the join: the staging files, and what it replaced."""
    shutil.rmtree(_staging(ctx, d.address), ignore_errors=True)
    if before is not None:
        _remove_captions(ctx, d.address, before.captions, keep=written)
        if before.output_file and before.output_file != file:  # a bucket: the replaced object goes
            ctx.outputs.published(d.address, _staging(ctx, d.address), before.output_file, file)


async def join(ctx: RunContext, change: Change, rows: list[RecordedVideo]) -> bool:
    """Join ``change``'s verified parts into its output and record it. True when published."""
    d = change.desired
    before = await ctx.db(ctx.store.get, d.address)
    ctx.emit(Kind.DOWNLOADING, d.address, d.provider, detail=f"joining {len(rows)} parts")
    try:
        file, sha256, size, parts, written, info = await asyncio.to_thread(_join_now, ctx, d, rows)
    except MediaError as exc:
        ctx.emit(Kind.ERROR, d.address, d.provider, detail=f"the join failed: {exc}; the parts are kept and the "
                                                             "previous output stays published")
        return False
    except (OSError, ReconcilerError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        ctx.emit(Kind.ERROR, d.address, d.provider,
                 detail=f"could not join its parts ({why}); nothing is lost: fix it and apply again (no render)")
        return False
    await ctx.db(ctx.store.record_joined, d, file, sha256, size, ctx.outputs.place(), parts, written, info)
    from reconciler.apply.follow import make_poster

    staged = _staging(ctx, d.address) / "joined.mp4"  # still here when it was uploaded, not when renamed into place
    await make_poster(ctx, d.address, d.provider, None, file, staged if staged.exists() else None)
    try:
        await asyncio.to_thread(_tidy, ctx, d, before, file, written)
    except (OSError, ReconcilerError) as exc:
        ctx.emit(Kind.WARNING, d.address, d.provider, detail=f"{file} is published, but what it replaced could "
                                                               f"not all be removed ({exc})")
    ctx.emit(Kind.FINISHED, d.address, d.provider,
             detail=f"{file} ({size} bytes, {info.duration_s:.2f} s) joined from {len(parts)} parts")
    ctx.manifest.changed()
    return True


def _captions_now(ctx: RunContext, d: DesiredVideo, r: RecordedVideo) -> dict[str, str]:
    if r.parts:
        durations = [float(p["duration_s"]) for p in r.parts]
    elif d.captions:
        from reconciler.media import verify

        local = ctx.outputs.local_copy(r.output_file, r.output_sha256, _staging(ctx, d.address) / "whole.mp4")
        try:
            durations = [verify.probe(local).duration_s]
        finally:
            shutil.rmtree(_staging(ctx, d.address), ignore_errors=True)  # a bucket's copy (a folder's: none)
    else:
        durations = []
    return _publish_captions(ctx, d, durations)


async def write_captions(ctx: RunContext, d: DesiredVideo) -> bool:
    """The caption files of a video whose output is published (a whole video after its
    render, or a caption-only change): timed by its recorded parts, or its measured length."""
    r = await ctx.db(ctx.store.get, d.address)
    if r is None or not r.has_output:
        return False
    try:
        written = await asyncio.to_thread(_captions_now, ctx, d, r)
    except (MediaError, OSError, ReconcilerError) as exc:
        ctx.emit(Kind.ERROR, d.address, d.provider, detail=f"could not write its caption files ({exc})")
        return False
    await ctx.db(ctx.store.record_captions, d.address, written)
    try:
        await asyncio.to_thread(_remove_captions, ctx, d.address, r.captions, written)
    except (OSError, ReconcilerError) as exc:
        ctx.emit(Kind.WARNING, d.address, d.provider, detail=f"an old caption file could not be removed ({exc})")
    ctx.manifest.changed()
    return True


def remove_captions(ctx: RunContext, r: RecordedVideo) -> list[str]:
    """A deleted video's caption files go with it (unless a bucket keeps deleted outputs)."""
    return ctx.outputs.remove_sidecars(r.address, list(dict(r.captions).values()), deleting=True)


def _publish_captions(ctx: RunContext, d: DesiredVideo, durations: list[float]) -> dict[str, str]:
    """Each caption format of ``d`` published beside its video; {format: file}."""
    return {fmt: ctx.outputs.publish_sidecar(d.address, fmt, text.encode("utf-8"))
            for fmt, text in sorted(caption_texts(d, durations).items())}


def _remove_captions(ctx: RunContext, address: str, files, keep: dict[str, str] | None = None) -> list[str]:
    """The caption files of ``address`` not in ``keep`` removed; the files removed."""
    kept = set((keep or {}).values())
    return ctx.outputs.remove_sidecars(address, [f for f in dict(files).values() if f not in kept])


def remove_staging(ctx: RunContext) -> None:
    """A killed join's staging files go (the join is made again from the parts)."""
    shutil.rmtree(ctx.config.state_dir / "joins", ignore_errors=True)
