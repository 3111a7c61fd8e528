"""The plan of a video by parts (docs/parts.md): which parts are rendered again.

A video with ``split`` keeps one ``Change`` in the plan (one entry of ``plan --json``);
its ``parts`` say what happens to each part, each one recorded in the state like a
whole video under its own address (``model.part_address``). A part is created, replaced
or left as it is by the rules of a whole video (a changed fingerprint, a failed or
cancelled render, a lost output: rendered again; an unknown create: never re-sent), and
is served from the render cache where its fingerprint is there. The video's change is a
``replace`` saying "k of N parts re-rendered" when any part changes or the parts must be
joined again; ``renders`` counts parts. A video whose joined output is published and
whose fingerprint is unchanged leaves its parts alone (a part file gone after the join
costs nothing). Captions are no render: a different ``captions`` list is an ``update``.
"""

from __future__ import annotations

import dataclasses

from reconciler.model import (
    Action,
    Change,
    DesiredVideo,
    PartChange,
    RecordedVideo,
    Status,
    is_part,
    part_address,
    part_owner,
)


def split_recorded(recorded: dict[str, RecordedVideo]) -> tuple[dict[str, RecordedVideo], dict[str, dict]]:
    """(the recorded videos, {video address: {part address: its part's row}})."""
    if not any(map(is_part, recorded)):
        return recorded, {}
    videos, owned = {}, {}
    for address, video in recorded.items():
        if is_part(address):
            owned.setdefault(part_owner(address), {})[address] = video
        else:
            videos[address] = video
    return videos, owned


def captions_note(d: DesiredVideo, r: RecordedVideo | None) -> str | None:
    """What changes in the caption files, or None."""
    had = tuple(sorted(r.captions)) if r is not None else ()
    if d.captions == had:
        return None
    return f"captions: {', '.join(had) or 'none'} → {', '.join(d.captions) or 'none'} (no render)"


def with_parts(change: Change, owned: dict[str, RecordedVideo], servable: frozenset[str],
               forced: frozenset[str], use_cache: bool) -> Change:
    """``change`` with what happens to each of its parts, its action and reason set by them."""
    d, r = change.desired, change.recorded
    if d is None or not d.parts:  # deleted, or no longer split: its recorded parts go
        gone = _deletes(owned, set())
        return dataclasses.replace(change, parts=gone) if gone else change
    if change.action is Action.NOOP and change.held_for is not None:
        return change
    settled = (r is not None and r.fingerprint == d.fingerprint and r.status is Status.FINISHED and r.has_output
               and r.output_fingerprint == d.fingerprint and d.address not in forced)
    planned = []
    for i, (fingerprint, chars) in enumerate(d.parts):
        address = part_address(d.address, i)
        pr = owned.get(address)
        if settled:
            action, why = Action.NOOP, "joined"
        else:
            action, why = _part_rule(fingerprint, pr, d.address in forced)
        cached = (action in (Action.CREATE, Action.REPLACE) and use_cache and d.address not in forced
                  and fingerprint in servable)
        planned.append(PartChange(i, address, action, fingerprint, chars, why, cached, pr))
    parts = tuple(planned) + _deletes(owned, {p.address for p in planned})
    unknown = [p for p in parts if p.action is Action.NOOP and p.recorded is not None
               and p.recorded.status is Status.UNKNOWN and not settled]
    n = len(d.parts)
    if unknown:
        which = ", ".join(str(p.index + 1) for p in unknown)
        return dataclasses.replace(
            change, action=Action.NOOP, parts=(), details=(), from_cache=False,
            reason=f"outcome unknown of part {which} of {n}: its create was sent but its answer never arrived; it may "
                   "be rendering and already paid for, so it is not sent again. To render every part again on "
                   f"purpose: reconciler apply --replace {d.address}")
    renders = sum(p.renders for p in parts)
    served = sum(1 for p in parts if p.from_cache)
    busy = any(p.action is Action.NOOP and p.recorded is not None and p.recorded.unfinished for p in parts)
    if settled and change.action is not Action.REPLACE:
        note = captions_note(d, r)
        if note and change.action is Action.NOOP:
            return dataclasses.replace(change, action=Action.UPDATE, reason=note, parts=parts)
        if note:
            return dataclasses.replace(change, reason=f"{change.reason}; {note}", parts=parts)
        return dataclasses.replace(change, parts=parts)
    words = f"{renders} of {n} parts re-rendered" if change.action is not Action.CREATE else \
        f"new video: {n} parts, {renders} rendered"
    if served:
        words += f", {served} from the render cache"
    if busy:
        words += ", parts still rendering are waited for"
    if change.action is Action.REPLACE and change.reason and renders == 0 and not served:
        words += f" ({change.reason})"
    action = Action.CREATE if change.action is Action.CREATE else Action.REPLACE
    details = tuple(f"part {p.index + 1}: {p.action.value}{' from the render cache' if p.from_cache else ''}"
                    f"{': ' + p.reason if p.reason else ''}" for p in parts if p.action is not Action.NOOP)[:12]
    return dataclasses.replace(change, action=action, reason=words, parts=parts, details=details, from_cache=False)


def _part_rule(fingerprint: str, pr: RecordedVideo | None, forced: bool) -> tuple[Action, str]:
    if forced:
        return (Action.REPLACE if pr is not None else Action.CREATE), "forced by --replace"
    if pr is None:
        return Action.CREATE, "new part"
    if pr.fingerprint != fingerprint:
        return Action.REPLACE, "its text or media changed"
    if pr.status is Status.UNKNOWN:
        return Action.NOOP, "outcome unknown"
    if pr.status is Status.FAILED:
        return Action.REPLACE, f"last render failed: {pr.error or 'no error given'}"
    if pr.status is Status.CANCELLED:
        return Action.REPLACE, "last render was cancelled"
    if pr.output_lost and pr.status is Status.FINISHED:
        return Action.REPLACE, f"output lost: {pr.error or 'the downloaded file is gone'}"
    if pr.unfinished:
        return Action.NOOP, f"render in progress (task {pr.task_id})" if pr.task_id else "render not yet sent"
    return Action.NOOP, "rendered"


def _deletes(owned: dict[str, RecordedVideo], keep: set[str]) -> tuple[PartChange, ...]:
    return tuple(PartChange(-1, address, Action.DELETE, None, 0, "no longer a part", False, pr)
                 for address, pr in sorted(owned.items()) if address not in keep)
