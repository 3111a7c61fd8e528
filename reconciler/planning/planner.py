"""Pure planning: ``make_plan(desired, recorded, options) -> Plan``.

This is the one place that decides what apply will do (docs/specs.md), so it is a pure
function: no I/O, no clock, no globals, the same answer for the same inputs. Every
address in specs or state gets exactly one ``Change``, sorted by address; the
``Action`` is what apply executes and the ``reason`` only explains it to people.

For an address in both, the first matching rule wins:

    --replace ADDR              replace  "forced by --replace"
    fingerprint differs         replace  names the changed request fields (+ script diff)
    status unknown              noop     "outcome unknown", with the command that renders
                                         it again on purpose (never re-sent otherwise)
    last render failed          replace
    last render cancelled       replace
    output lost                 replace  only once its latest render has finished: the flag
                                         outlives the re-render it caused, which must not be
                                         paid again while it runs (or its create is unknown)
    labels / prevent_destroy / spec file differ   update (no render)
    otherwise                   noop

A replace or delete of a render created with another vendor account than the one this
checkout runs as (``options.accounts``, docs/team.md) is a noop naming that account
(``held_for``): what its own vendor does not know is neither cancelled nor rendered again.

A create or replace whose render fingerprint is in ``options.cached`` (the render
cache's index, read before planning like the state) or is that of an output published
now (``published_fingerprints``) is marked ``from_cache``: apply publishes the cached
output instead of rendering (docs/cache.md). A ``--replace`` never is: a person asks for
it because the kept render is wrong. Two or more changes that render the same
fingerprint render it once: the first by address, the others are marked ``from_cache``
with ``same_as`` naming it (apply holds them until its output is verified). The caller
may pass ``unservable``, its cheap look at the cache entries the plan counts as free
(no I/O here): any it names is planned again as a paid render, the reason saying why,
so a plan never counts a render apply would have to pay. A create served from the cache
whose fingerprint is the published output of a video the plan deletes is a rename: the
two stay a create and a delete, and name each other (``moved_from``, ``moved_to``).

Then the safety checks refuse the plan (``PlanError``): targets or --replace naming
nothing, a mass delete (an empty or mis-checked-out specs folder looks exactly like
"delete everything"), and any delete/replace of a ``prevent_destroy`` video.
A create whose outcome is ``unknown`` (sent, answer lost) may be rendering and paid
for; sending the same request again could pay twice, so only a person asks for it
(``--replace ADDR``, docs/specs.md). A changed fingerprint is not a re-send: the specs
now ask for another video, which is rendered (the reason says the unanswered create
may have been paid for too).
The wording of request differences (which fields, a short script diff) is in
``describe``.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Callable

from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Change,
    DesiredVideo,
    Plan,
    PlanOptions,
    RecordedVideo,
    Status,
    account_text,
    can_cancel,
    display_name,
    owner_elsewhere,
)
from reconciler.planning import parts
from reconciler.planning.describe import describe_render_change, fmt


def make_plan(desired: dict[str, DesiredVideo], recorded: dict[str, RecordedVideo], options: PlanOptions, *,
              unservable: Callable[[frozenset[str]], dict[str, str]] | None = None) -> Plan:
    """The changes that bring ``recorded`` to ``desired``. Raises PlanError when refused.
    ``unservable(fingerprints)``: which of the cache entries this plan serves from cannot
    be served (fingerprint -> why); they are planned again as renders."""
    plan = _make_plan(desired, recorded, options)
    if unservable is None or not options.cached:
        return plan
    relied = options.cached.intersection(c.desired.fingerprint for c in plan.changes if c.from_cache and c.same_as is None)
    relied |= options.cached.intersection(p.fingerprint for c in plan.changes for p in c.parts if p.from_cache)
    bad = unservable(relied) if relied else {}
    if not bad:
        return plan
    again = _make_plan(desired, recorded, dataclasses.replace(options, cached=options.cached - bad.keys()))
    return Plan(tuple(_unserved(c, bad) for c in again.changes))


def _make_plan(desired: dict[str, DesiredVideo], recorded: dict[str, RecordedVideo], options: PlanOptions) -> Plan:
    every, (recorded, owned) = recorded, parts.split_recorded(recorded)  # a video's parts: its change's (parts.py)
    addresses = sorted(desired.keys() | recorded.keys())
    targeted = _targeted(addresses, options.targets)
    _check_replace(options, desired, recorded, targeted)
    changes = tuple(
        _change(a, desired.get(a), recorded.get(a), options) if a in targeted else _untargeted(a, desired, recorded)
        for a in addresses
    )
    if options.accounts and _other_accounts_recorded(recorded, options.accounts):
        changes = tuple(map(lambda c: _held(c, options), changes))
    if owned or any(d.parts or d.captions for d in desired.values()):
        changes = _with_parts(changes, every, owned, options)
    if options.use_cache and any(c.action in (Action.CREATE, Action.REPLACE) for c in changes):
        servable = options.cached | published_fingerprints(recorded, options.place)
        if servable:
            changes = tuple(map(lambda c: _from_cache(c, servable, options.replace), changes))
        changes = _render_once(changes, options.replace)
        changes = _moves(changes)
    _check_mass_delete(changes, len(recorded), options)  # the videos recorded (not their parts)
    _check_prevent_destroy(changes)
    return Plan(changes)


def _with_parts(changes: tuple[Change, ...], every: dict[str, RecordedVideo], owned: dict[str, dict],
                options: PlanOptions) -> tuple[Change, ...]:
    """Videos by parts and caption files (docs/parts.md): see ``planning.parts``."""
    servable = options.cached | published_fingerprints(every, options.place) if options.use_cache else frozenset()
    out = []
    for change in changes:
        d = change.desired
        if change.reason == "not targeted":
            out.append(change)
        elif (d is not None and d.parts) or change.address in owned:
            out.append(parts.with_parts(change, owned.get(change.address, {}), servable, options.replace,
                                        options.use_cache))
        elif d is not None and change.action in (Action.NOOP, Action.UPDATE) and change.recorded is not None \
                and change.recorded.has_output and change.held_for is None and parts.captions_note(d, change.recorded):
            note = parts.captions_note(d, change.recorded)
            out.append(dataclasses.replace(change, action=Action.UPDATE, reason=note) if change.action is Action.NOOP
                       else dataclasses.replace(change, reason=f"{change.reason}; {note}"))
        else:
            out.append(change)
    return tuple(out)


# -- targeting ------------------------------------------------------------------------


def matches_target(target: str, address: str) -> bool:
    """The ``--target`` rule: the address itself, or every address under a target
    ending in ``/`` (apply uses it too, to scope what a run may touch)."""
    return address == target or (target.endswith("/") and address.startswith(target))


def _targeted(addresses: list[str], targets: frozenset[str]) -> set[str]:
    if not targets:
        return set(addresses)
    chosen: set[str] = set()
    for target in sorted(targets):
        hits = [a for a in addresses if matches_target(target, a)]
        if not hits:
            hint = ""
            if not target.endswith("/") and any(a.startswith(target + "/") for a in addresses):
                hint = f" (for every video under it, write --target {target}/)"
            raise PlanError(f"--target {target}: no video in specs or state has this address{hint}")
        chosen.update(hits)
    return chosen


def _check_replace(options: PlanOptions, desired: dict, recorded: dict, targeted: set[str]) -> None:
    for address in sorted(options.replace):
        if address not in desired:
            why = "it is no longer in specs, so it would be deleted" if address in recorded else "no such video in specs"
            raise PlanError(f"--replace {address}: {why}; only a video in specs can be rendered again")
        if options.targets and address not in targeted:
            raise PlanError(f"--replace {address} is outside the --target addresses; add --target {address}")


def _untargeted(address: str, desired: dict, recorded: dict) -> Change:
    d, r = desired.get(address), recorded.get(address)
    return Change(address, Action.NOOP, (d or r).provider, "not targeted", _file(d, r), d, r)


def _file(d: DesiredVideo | None, r: RecordedVideo | None) -> str | None:
    return d.spec_file if d is not None else (r.spec_file or None if r is not None else None)


# -- the rules ------------------------------------------------------------------------


def _change(address: str, d: DesiredVideo | None, r: RecordedVideo | None, options: PlanOptions) -> Change:
    if r is None:
        return _plain(address, Action.CREATE, d.provider, "new video", d.spec_file, d, None)
    if d is None:
        return Change(address, Action.DELETE, r.provider, _delete_reason(r, options.keep_deleted_outputs),
                      _file(None, r), None, r)
    if _settled(d, r, options):
        return _plain(address, Action.NOOP, d.provider, "up to date", d.spec_file, d, r)
    cause = _replace_cause(d, r, options)
    if cause is not None:
        reason, details = cause
        return Change(address, Action.REPLACE, d.provider, reason + _leftover_note(r), d.spec_file, d, r, details)
    update = _metadata_changes(d, r)
    if update:
        return Change(address, Action.UPDATE, d.provider, "; ".join(update), d.spec_file, d, r)
    return Change(address, Action.NOOP, d.provider, _noop_reason(r) + _moved_note(d, r), d.spec_file, d, r)


_new = object.__new__


def _plain(address: str, action: Action, provider: str, reason: str, file: str | None,
           d: DesiredVideo | None, r: RecordedVideo | None) -> Change:
    """``Change(address, action, provider, reason, file, d, r)`` for the two rules that
    make nearly every change of a big project (a new video, a settled one), built
    without the frozen dataclass ``__init__`` (an ``object.__setattr__`` per field: half
    the planner's time for 10,000 videos). Equal to what ``__init__`` makes."""
    change = _new(Change)
    fields = change.__dict__  # item by item: faster than update(**...) by half
    fields["address"], fields["action"], fields["provider"], fields["reason"] = address, action, provider, reason
    fields["file"], fields["desired"], fields["recorded"], fields["details"] = file, d, r, ()
    fields["from_cache"], fields["same_as"], fields["held_for"] = False, None, None
    fields["moved_from"], fields["moved_to"], fields["parts"] = None, None, ()
    return change


def _settled(d: DesiredVideo, r: RecordedVideo, options: PlanOptions) -> bool:
    """The common case of a long-running project, in one test: rendered, downloaded and
    unchanged, so every rule below ends in noop "up to date" (checked against them in
    tests/planning). A shortcut only: anything else goes through the rules."""
    return (r.status is Status.FINISHED and d.fingerprint == r.fingerprint and not r.output_lost
            and r.output_file is not None and r.output_fingerprint in (None, r.fingerprint)
            and d.spec_file == r.spec_file and d.labels == r.labels and d.prevent_destroy == r.prevent_destroy
            and d.address not in options.replace)


def _replace_cause(d: DesiredVideo, r: RecordedVideo, options: PlanOptions) -> tuple[str, tuple[str, ...]] | None:
    if d.address in options.replace:
        return "forced by --replace", ()
    if d.fingerprint != r.fingerprint:
        return describe_render_change(d, r)
    if r.status is Status.FAILED:
        return f"last render failed: {r.error or 'no error given'}", ()
    if r.status is Status.CANCELLED:
        return "last render was cancelled", ()
    if r.output_lost and r.status is Status.FINISHED:  # not while a new render of it runs or may run
        why = r.error or "the downloaded file is gone"
        return (why if why.startswith("output lost") else f"output lost: {why}"), ()
    return None


def _delete_reason(r: RecordedVideo, keep_output: bool = False) -> str:
    reason = f"no longer in specs (was in {r.spec_file})" if r.spec_file else "no longer in specs"
    reason += _leftover_note(r)
    if r.has_output:
        reason += f"; its output {r.output_file} " + ("is kept (keep_deleted_outputs)" if keep_output
                                                      else "will be removed")
    return reason


def _leftover_note(r: RecordedVideo) -> str:
    """What happens to a render still running when its video is replaced or deleted."""
    if r.status is Status.UNKNOWN:
        return "; a render its unanswered create may have started cannot be cancelled (no task id was received)"
    if not (r.unfinished and r.task_id):
        return ""
    if can_cancel(r.provider):
        return f"; its unfinished render (task {r.task_id}) will be cancelled"
    return f"; its unfinished render (task {r.task_id}) will be abandoned: {display_name(r.provider)} has no cancel API"


def _metadata_changes(d: DesiredVideo, r: RecordedVideo) -> list[str]:
    parts = []
    if d.labels != r.labels:
        parts.append("labels changed: " + _labels_diff(r.labels, d.labels))
    if d.prevent_destroy != r.prevent_destroy:
        parts.append(f"prevent_destroy changed: {fmt(r.prevent_destroy)} → {fmt(d.prevent_destroy)}")
    return parts  # a move to another file is not a change (docs/specs.md): see _noop_reason


def _moved_note(d: DesiredVideo, r: RecordedVideo) -> str:
    """A video moved to another spec file is unchanged; apply quietly records where it
    lives now (for the manifest's ``spec_file``)."""
    if not r.spec_file or d.spec_file == r.spec_file:
        return ""
    return f" (moved from {r.spec_file} to {d.spec_file})"


def _labels_diff(old: dict[str, str], new: dict[str, str]) -> str:
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return ", ".join(f"{k} {old.get(k, '(none)')} → {new.get(k, '(none)')}" for k in keys)


def outcome_unknown(change: Change) -> bool:
    """A noop held back because its last create's outcome is unknown (docs/specs.md)."""
    r = change.recorded
    return change.action is Action.NOOP and r is not None and r.status is Status.UNKNOWN and change.desired is not None


def replace_command(address: str) -> str:
    """The command that renders ``address`` again on purpose."""
    return f"reconciler apply --replace {address}"


def _noop_reason(r: RecordedVideo) -> str:
    if r.status is Status.UNKNOWN:
        return (f"outcome unknown: the create (attempt {r.attempt}) was sent but its answer never arrived; "
                "it may be rendering and already paid for, so it is not sent again. "
                f"To render it again on purpose: {replace_command(r.address)}")
    if r.unfinished:
        return f"render in progress (task {r.task_id})" if r.task_id else "render not yet sent"
    if r.status is Status.FINISHED and (r.output_file is None or r.output_fingerprint not in (None, r.fingerprint)):
        return f"render finished (task {r.task_id}); its output is not downloaded yet"
    return "up to date"


def published_fingerprints(recorded: dict[str, RecordedVideo], place: str | None = None) -> frozenset[str]:
    """The render fingerprints of the outputs published now. Each is servable like a
    cache entry even when its copy into the render cache failed (a kill between the two
    steps, a bucket hiccup): ``Engine.recover`` keeps it in the cache before any change
    runs, so a rename or a duplicate of it never pays (docs/cache.md). Not one that
    another checkout of a shared state downloaded (``output_place`` not ``place``): its
    file is not here to serve from."""
    return frozenset(v.output_fingerprint for v in recorded.values() if v.has_output and v.output_fingerprint
                     and (place is None or v.output_place in (None, place)))


def _from_cache(change: Change, cached: frozenset[str], forced: frozenset[str] = frozenset()) -> Change:
    """A create or replace whose fingerprint the render cache holds is served from it:
    its output is published, no vendor call (docs/cache.md). Not one forced by
    ``--replace``: that is a paid render (docs/commands.md)."""
    if (change.action not in (Action.CREATE, Action.REPLACE) or change.desired.fingerprint not in cached
            or change.address in forced or change.desired.parts):
        return change
    return dataclasses.replace(change, reason=change.reason + "; " + FROM_CACHE, from_cache=True)


FROM_CACHE = "from the render cache: no render"


# -- accounts (docs/team.md) ------------------------------------------------------------


def _held(change: Change, options: PlanOptions) -> Change:
    """A replace or delete of a render created with another vendor account is not this
    checkout's to carry out (it would cancel, or render again, what its own vendor does
    not know): a noop that says whose it is (``held_for``); apply exits 1 on it."""
    r = change.recorded
    if change.action not in (Action.REPLACE, Action.DELETE) or r is None:
        return change
    owner = owner_elsewhere(r, options.accounts)
    if owner is None:
        return change
    if change.action is Action.REPLACE:
        why = f"it would be rendered again: {_replace_cause(change.desired, r, options)[0]}"
    else:
        why = "it would be deleted: no longer in specs"
    return dataclasses.replace(
        change, action=Action.NOOP, details=(), held_for=owner,
        reason=f"{OWNED_ELSEWHERE} ({account_text(r.provider, owner)}): {why}; only a checkout running as that "
               f"account can {change.action.value} it")


OWNED_ELSEWHERE = "owned by another account"


def _other_accounts_recorded(recorded: dict[str, RecordedVideo], accounts) -> bool:
    """Whether any recorded render may be another account's (a quick test, read in C: in
    the common case of one account no change is looked at again)."""
    seen = set(map(_account_of, recorded.values()))
    seen.discard(None)
    return not seen <= set(accounts.values())


_account_of = operator.attrgetter("account")


def _render_once(changes: tuple[Change, ...], forced: frozenset[str]) -> tuple[Change, ...]:
    """Changes that would each render the same fingerprint: the first by address renders,
    every other (unless forced by ``--replace``) is served from that render once its
    output is verified (docs/cache.md: the same content twice costs one render)."""
    if _count(changes, Action.CREATE) + _count(changes, Action.REPLACE) < 2:
        return changes  # the common case, counted in C
    first: dict[str, str] = {}
    out = list(changes)
    for i, change in enumerate(changes):
        if not change.renders or change.desired.parts:
            continue
        fingerprint = change.desired.fingerprint
        if fingerprint not in first:
            first[fingerprint] = change.address
        elif change.address not in forced:
            out[i] = dataclasses.replace(
                change, reason=f"{change.reason}; same content as {first[fingerprint]}, rendered once for both: "
                               "no render", from_cache=True, same_as=first[fingerprint])
    return tuple(out)


def _moves(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """Renames (docs/cache.md): a create served from the render cache whose fingerprint is
    that of the published output of a video this plan deletes is that video under its new
    address. Both stay what apply carries out (the create publishes the cached render, the
    delete removes the old one); each names the other, so the plan can show one move.
    One to one, by address: the first such create takes the first such delete."""
    if not (_count(changes, Action.CREATE) and _count(changes, Action.DELETE)):
        return changes  # the common case, counted in C
    deleted: dict[str, list[int]] = {}
    for i, change in enumerate(changes):
        r = change.recorded
        if change.action is Action.DELETE and r.has_output and r.output_fingerprint:
            deleted.setdefault(r.output_fingerprint, []).append(i)
    if not deleted:
        return changes
    out = list(changes)
    for i, change in enumerate(changes):
        if change.action is not Action.CREATE or not change.from_cache or change.same_as is not None:
            continue
        olds = deleted.get(change.desired.fingerprint)
        if not olds:
            continue
        j = olds.pop(0)
        old = changes[j]
        out[i] = dataclasses.replace(change, moved_from=old.address, reason=f"moved from {old.address}; {FROM_CACHE}")
        out[j] = dataclasses.replace(old, moved_to=change.address,  # "no longer in specs (was in ...); ..."
                                     reason=f"moved to {change.address}" + old.reason.removeprefix("no longer in specs"))
    return tuple(out)


def _unserved(change: Change, bad: dict[str, str]) -> Change:
    """A change planned again as a render because the cache entry it would have been
    served from cannot be (``make_plan``'s ``unservable``): the reason says why."""
    why = bad.get(change.desired.fingerprint) if change.renders and change.desired is not None else None
    if why is None:
        return change
    return dataclasses.replace(change, reason=f"{change.reason}; the render cache cannot serve it ({why})")


# -- safety checks --------------------------------------------------------------------


def _check_mass_delete(changes: tuple[Change, ...], recorded_count: int, options: PlanOptions) -> None:
    deletes = _count(changes, Action.DELETE)
    if options.allow_mass_delete or recorded_count == 0 or deletes == 0:
        return
    share = options.max_delete_share
    everything = recorded_count > 1 and deletes == recorded_count
    too_many = share is not None and deletes / recorded_count > share
    if not (everything or too_many):
        return
    limit = "all of them" if everything else f"more than max_delete_share ({share:g}) of them"
    raise PlanError(
        f"this plan would delete {deletes} of {recorded_count} recorded videos ({limit}). "
        "If that is not what you meant, the specs folder may be empty or checked out wrong: check it "
        "(and `specs:` in reconciler.yaml). To delete them anyway, run again with --allow-mass-delete."
    )


def _count(changes: tuple[Change, ...], action: Action) -> int:
    return operator.countOf(map(_action_of, changes), action)  # in C: 10,000 changes in 0.3 ms


_action_of = operator.attrgetter("action")


def _check_prevent_destroy(changes: tuple[Change, ...]) -> None:
    if not (_count(changes, Action.DELETE) or _count(changes, Action.REPLACE)):
        return  # the common case, checked in C
    blocked = [c for c in changes if _destroys_protected(c)]
    if not blocked:
        return
    lines = [f"  {c.address} ({c.action.value}: {c.reason})" for c in blocked]
    raise PlanError(
        f"prevent_destroy protects {len(blocked)} video{'s' if len(blocked) != 1 else ''} "
        "that this plan would delete or replace:\n" + "\n".join(lines) + "\n"
        "To go ahead: for a replace, set `prevent_destroy: false` in its spec; "
        "for a delete, put the video back with `prevent_destroy: false`, "
        "apply, then remove it. Or leave these videos out with --target."
    )


def _destroys_protected(c: Change) -> bool:
    if c.action is Action.DELETE:
        return c.recorded.prevent_destroy
    if c.action is Action.REPLACE:
        return c.desired.prevent_destroy  # the spec decides, as Terraform's lifecycle block does
    return False
