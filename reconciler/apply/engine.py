"""The apply/refresh engine: one event loop that executes a plan and follows its renders.

Why it is built this way: an apply of thousands of videos spends minutes waiting for
vendors, so everything happens on one asyncio loop: no thread per video, one timer
for all polls (``poller.Tracker``). ``apply``, ``refresh`` and the ``watch`` daemon
all drive the same object:

    engine = Engine(config, store, providers, hooks, parallelism)
    engine.recover()                    # pending intents of a dead writer -> unknown
    await engine.track_unfinished()     # (recover first, once) unfinished renders -> tracked
    await engine.execute(plan, stop)    # every Change, at most `parallelism` at a time
    await engine.wait(stop)             # poll tracked renders until none are left
    await engine.poll_once()            # (refresh) poll each tracked render once
    await engine.check_outputs()        # (refresh) outputs missing/changed -> fetched again or lost
    await engine.close()                # final manifest write, providers closed

``execute`` and ``wait`` may run at the same time (apply does: an output is
downloaded the moment its render finishes, while later creates are still going
out); ``wait`` returns when nothing is tracked and no ``execute`` is running, or
when ``stop`` is set (then it lets the calls in flight finish). Concurrency: each
vendor's changes are started in plan order through a window (``WINDOW``), so memory does
not grow with the size of the plan; a change
takes a slot of its vendor's limit (``capabilities.max_concurrency``), then one of
``asyncio.Semaphore(parallelism)``; every HTTP call also waits for the provider's own
per-vendor limit (``providers.http``), which is what bounds polls and downloads. A
change served from the render of another change of the same plan (``Change.same_as``:
the same content, docs/cache.md) waits, holding no slot, until that render settles
(``_settled``: its output verified and cached, or failed, or not followed in this run),
then is served from it or said not to be; it is never rendered itself.
The state is written only through the ``Store``, each outcome the moment it happens
(``executor`` for creates, ``follow`` for polls and downloads, each given a
``context.RunContext``, never the engine), on one thread of its own; the manifest
follows through ``manifest_writer.ManifestWriter``. Progress goes to ``hooks``:
library code never prints.

A local write that fails (the state DB on a full disk, a manifest path that is a
folder) ``halt``s the engine: no new change starts, ``wait`` stops following renders,
the calls in flight finish and are recorded where they can be, and ``halted`` says
why, for the command to print and exit 1. What was recorded before is kept; an intent
whose answer could not be written reads as ``unknown`` next time, never re-sent.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime
from typing import Awaitable, Callable

from reconciler.apply import decks, executor, follow, parts, published
from reconciler.apply.context import RunContext
from reconciler.apply.events import Event, Hooks, Kind, NullHooks, Tally
from reconciler.apply.schedule import PollSchedule, Tracker
from reconciler.config import Config
from reconciler.config import account as config_account
from reconciler.errors import ManifestError, ReconcilerError, StateWriteError
from reconciler.model import (
    VENDORS,
    Action,
    Change,
    Plan,
    RecordedVideo,
    Status,
    account_text,
    is_part,
    owner_elsewhere,
    part_owner,
)
from reconciler.outputs import OutputsStore, open_outputs
from reconciler.outputs.rules import kept_elsewhere
from reconciler.providers.base import Provider, script_size
from reconciler.state import manifest_writer, overdue
from reconciler.state.store import Store
from reconciler.util import backoff
from reconciler.util import clock as wall_clock
from reconciler.util.aio import first_of


def to_collect(video: RecordedVideo) -> bool:
    """Whether a recorded video has a render to follow: still rendering, or finished
    with an output never downloaded (a crash between the two)."""
    if not video.task_id:
        return False
    if video.status is Status.RENDERING:
        return True
    return video.status is Status.FINISHED and not video.output_lost and video.output_task_id != video.task_id


WINDOW = 128  # changes of one vendor started at a time (Engine._in_window)


def _since(stamp: str | None, now: float) -> float | None:
    """Seconds from a recorded time to ``now`` (None when it does not read)."""
    try:
        return max(0.0, now - datetime.fromisoformat(stamp).timestamp()) if stamp else None
    except ValueError:
        return None


class ProviderSet(Mapping):
    """Providers built on first use (so a plan touching one vendor never starts the
    other's client or simulator), closed together."""

    def __init__(self, config: Config, factory: Callable[[str, Config], Provider] | None = None):
        self._config = config
        self._factory = factory
        self._built: dict[str, Provider] = {}

    def __getitem__(self, name: str) -> Provider:
        if name not in self._built:
            if self._factory is None:
                from reconciler.providers import make_provider

                self._factory = make_provider
            self._built[name] = self._factory(name, self._config)
        return self._built[name]

    def __iter__(self):
        return iter(VENDORS)

    def __len__(self) -> int:
        return len(VENDORS)

    def built(self) -> list[Provider]:
        return list(self._built.values())


class Engine:
    """Executes plans and follows renders for one state, on the running event loop."""

    def __init__(self, config: Config, store: Store, providers: Mapping[str, Provider],
                 hooks: Hooks | None = None, parallelism: int | None = None, *, holder: str = "apply",
                 schedule: PollSchedule | None = None, clock: Callable[[], float] = time.monotonic,
                 outputs: OutputsStore | None = None):
        self.config = config
        self.store = store
        self.providers = providers
        self.hooks = hooks if hooks is not None else NullHooks()
        self.parallelism = parallelism or config.parallelism
        self.holder = f"{holder} (pid {os.getpid()})"
        self.clock = clock
        self.tracker = Tracker(schedule)
        # the outputs folder or bucket: one per run (a bucket's client is shared by every upload)
        self.outputs = outputs if outputs is not None else open_outputs(config, self.parallelism)
        # SQLite commits fsync (a few ms each): they run on one thread of their own, in
        # order, so the event loop keeps calling vendors meanwhile. The manifest is
        # written on the same thread, so it always reads a state between two writes.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler-state")
        self.manifest = manifest_writer.ManifestWriter(config.manifest_path, store, executor=self._db,
                                                       on_error=self.halt,
                                                       public_url=self.outputs.public_url if config.file.outputs_public_url else None)
        self.tally = Tally()  # latest display state per address
        self.errors: dict[str, str] = {}  # address -> why it failed / is unknown
        self.actions: dict[str, Action] = {}  # address -> the change carried out
        self._executing = 0
        self._slots = asyncio.Semaphore(self.parallelism)
        self._vendor_slots: dict[str, asyncio.Semaphore] = {}
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._recovered = False
        self._accounts: dict[str, str | None] = {}  # provider -> the account this run calls as
        self._reported_owners: dict[str, str] = {}  # address -> the other account it was reported as owned by
        self._reported_kept: set[tuple[str, str]] = set()  # (address, other account): its output kept elsewhere
        self._renders_for: dict[str, asyncio.Event] = {}  # a render others of the plan are served from -> settled
        self._ran: set[str] = set()  # of those, the ones whose own change has been carried out
        self._following = 0  # ``wait`` calls running: a render started now will be followed to its output
        self._awaited: dict[str, asyncio.Event] = {}  # a video waiting for its parts' renders -> news of one
        # What executor and follow may use: built once, passed down (never the engine).
        self.context = RunContext(
            config=config, store=store, db=self.db, emit=self.emit, tracker=self.tracker,
            providers=providers, manifest=self.manifest, clock=clock, holder=self.holder,
            lock=self.lock, wake=self._wakeup, outputs=self.outputs, account=self.account,
            other_account=self.other_account)
        self.halted: str | None = None  # why this engine stopped taking new work (see halt)
        self.halt_cause: BaseException | None = None  # the error behind ``halted``, where there was one
        self.on_halt: Callable[[str], None] | None = None  # e.g. the daemon stops

    async def db(self, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` (a ``Store`` method) on the state thread; its result.
        A write that fails locally halts the engine (and is raised)."""
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._db, call)
        except StateWriteError as exc:
            self.halt(exc)
            raise

    def halt(self, why: str | BaseException) -> None:
        """A local write failed: start no new change, stop following renders, let the
        calls in flight finish. The first reason is kept in ``halted``."""
        if self.halted is None:
            self.halted = str(why)
            for address in list(self._renders_for):
                self._settled(address)  # held changes are released (and find nothing to serve them)
            self.halt_cause = why if isinstance(why, BaseException) else None
            if self.on_halt is not None:
                self.on_halt(self.halted)
        self._wakeup()

    def lock(self, address: str) -> asyncio.Lock:
        """Held while a change or a poll+download works on ``address``, so a delete or a
        replace never races the download of the render it supersedes."""
        lock = self._locks.get(address)
        if lock is None:
            lock = self._locks[address] = asyncio.Lock()
        return lock

    # -- reporting ------------------------------------------------------------------

    def emit(self, kind: Kind, address: str, provider: str = "", task_id: str | None = None,
             detail: str = "") -> None:
        event = Event(kind, address, provider, task_id, detail)
        awaited = self._awaited.get(part_owner(address) if is_part(address) else address)
        if awaited is not None:
            awaited.set()
        self.tally.add(event)
        if kind.about.final and address in self._ran:
            self._settled(address)
        if kind.about.failing:
            self.errors[address] = detail
        elif event.state is not None:
            self.errors.pop(address, None)
        self.hooks.event(event)

    # -- accounts (docs/team.md) -------------------------------------------------------

    def account(self, provider: str) -> str | None:
        """The vendor account this run calls ``provider`` as (None without credentials:
        nothing of it can be called, and that is said where it is needed)."""
        if provider not in self._accounts:
            try:
                self._accounts[provider] = config_account.account(self.config, provider)
            except ReconcilerError:
                self._accounts[provider] = None
        return self._accounts[provider]

    def accounts(self) -> dict[str, str]:
        """``account`` of every vendor known here (for ``PlanOptions.accounts``)."""
        return {name: mine for name in VENDORS if (mine := self.account(name)) is not None}

    def other_account(self, video: RecordedVideo) -> bool:
        """Whether ``video``'s render (as recorded) was created with another account than
        this run's: then it must not be polled, downloaded, cancelled, marked failed or
        lost, or rendered again here, and it is reported once: kept on another machine
        when its output is published by another checkout (nothing to do here), else owned
        by another account (work this checkout cannot do: the command exits 1)."""
        current = self.account(video.provider)
        owner = owner_elsewhere(video, {video.provider: current} if current else {})
        if owner is None:
            return False
        done = video.status is Status.FINISHED and video.output_task_id == video.task_id  # nothing left to follow
        place = kept_elsewhere(self.config, video) if done else None
        if place is None:
            self._report_owner(video.address, video.provider, owner, video.task_id)
        elif (video.address, owner) not in self._reported_kept:
            self._reported_kept.add((video.address, owner))
            self.emit(Kind.KEPT_ELSEWHERE, video.address, video.provider, video.output_task_id,
                      f"the output is kept on another machine ({place}) and was rendered with another account "
                      f"({account_text(video.provider, owner)}): not fetched here")
        return True

    def report_held(self, plan: Plan) -> None:
        """Report the changes the planner held back for another account (``held_for``)."""
        for change in plan.changes:
            if change.held_for is not None:
                task_id = change.recorded.task_id if change.recorded else None
                self._report_owner(change.address, change.provider, change.held_for, task_id)

    def _report_owner(self, address: str, provider: str, owner: str, task_id: str | None) -> None:
        if self._reported_owners.get(address) == owner:
            return
        self._reported_owners[address] = owner
        mine = self.account(provider)
        self.emit(Kind.OTHER_ACCOUNT, address, provider, task_id,
                  f"owned by another account ({account_text(provider, owner)}; this checkout runs as "
                  f"{account_text(provider, mine) if mine else 'another'}): not polled, downloaded, cancelled or "
                  "rendered again here; run this where that account's credentials (or simulator) are")

    # -- starting points --------------------------------------------------------------

    def recover(self) -> list[str]:
        """Turn the intents a dead writer left ``pending`` into ``unknown`` and report them
        (and remove its half-done downloads and deck copies). Call while holding the lock and with no
        call of this engine in flight."""
        self._recovered = True
        self.tracker.durations.learn_history(self.store.render_history())  # when to poll (apply/schedule.py)
        self.outputs.sweep(self.store.recorded)
        parts.remove_staging(self.context)
        decks.sweep(self.config)
        published.keep_in_cache(self.context)
        published.make_missing_posters(self.context)
        addresses = self.store.recover()
        for address in addresses:
            video = self.store.get(address)
            self.emit(Kind.RECOVERED, address, video.provider if video else "", detail=(
                "an earlier run stopped while its create was in flight: it may have been paid for, so it is "
                f"not sent again; to render it again on purpose: reconciler apply --replace {address}"))
        if addresses:
            self.manifest.changed()
        return addresses

    async def track_unfinished(self, addresses: Collection[str] | None = None,
                               deleting: Collection[str] = ()) -> int:
        """Track every render the state records as unfinished (and every finished one whose
        output was never downloaded), of ``addresses`` only if given, never of ``deleting``
        (the plan's deletes: an output about to be removed is not fetched again). Returns how
        many were added."""
        if not self._recovered:
            self.recover()
        added = 0
        as_recorded = await self.db(self.store.recorded)
        # a published file gone or damaged that the vendor can give again reads as "not downloaded"
        recorded = await asyncio.to_thread(self.outputs.notice_missing, as_recorded)
        for video in recorded.values():
            if not to_collect(video) or (addresses is not None and video.address not in addresses) \
                    or video.address in deleting:
                continue
            if self.other_account(as_recorded[video.address]):
                continue
            warning = overdue.download_warning(video, wall_clock.utc_now().timestamp())
            if warning:
                self.emit(Kind.WARNING, video.address, video.provider, video.task_id, warning)
            known = self.tracker.get(video.address)
            if known is not None and known.task_id == video.task_id:
                continue
            now = wall_clock.utc_now().timestamp()
            self.tracker.add(video.address, video.provider, video.task_id, self.clock(), immediate=True,
                             recorded=video.status, stall_in=overdue.stall_remaining(video, self.config, now),
                             size=script_size(video.request), elapsed=_since(video.submitted_at, now))
            self.emit(Kind.TRACKING, video.address, video.provider, video.task_id,
                      "render in progress, found in state" if video.status is Status.RENDERING
                      else video.error if video.output_file is None and video.error
                      else "finished, output not downloaded yet")
            added += 1
        self._wakeup()
        return added

    # -- executing a plan ----------------------------------------------------------------

    def execute(self, plan: Plan, stop: asyncio.Event | None = None) -> Awaitable[None]:
        """Carry out every change of ``plan``; after ``stop`` is set no new one starts.

        Not ``async def`` on purpose: calling it registers the run at once, so a
        ``wait`` started beside it (``gather(engine.execute(p), engine.wait())``) keeps
        waiting for the renders it will start. Always await the result."""
        self._executing += 1
        return self._execute(plan, stop or asyncio.Event())

    async def _execute(self, plan: Plan, stop: asyncio.Event) -> None:
        try:
            changes = [c for c in plan.changes if c.action is not Action.NOOP]
            self.report_held(plan)
            carried = {c.address for c in changes}
            for first in {c.same_as for c in changes if c.same_as is not None}:
                self._renders_for[first] = asyncio.Event()  # this plan's: a watch re-plans with new ones
                self._ran.discard(first)
                if first not in carried:  # held back (watch's policy): nothing to wait for
                    self._settled(first)
            for moved in filter(executor.moved_only, plan.changes):
                await executor.record_move(self.context, moved)
            served = [c for c in changes if c.same_as is not None]  # wait for their render, holding nothing
            by_vendor: dict[str, list] = {}
            for change in changes:
                if change.same_as is None:
                    by_vendor.setdefault(change.provider, []).append(change)
            await asyncio.gather(*(self._change(c, stop) for c in served),
                                 *(self._in_window(group, stop) for group in by_vendor.values()))
        finally:
            self._executing -= 1
            self._wakeup()

    async def _in_window(self, changes: list, stop: asyncio.Event) -> None:
        """One vendor's changes in plan order, at most ``WINDOW`` (or 4 x parallelism) of them
        started at a time, each still waiting for its slots inside: ten thousand changes are
        not ten thousand tasks held in memory at once, and one vendor at its limit never
        keeps another's changes from starting."""
        window = max(WINDOW, 4 * self.parallelism)
        running: set[asyncio.Task] = set()
        try:
            for change in changes:
                if len(running) >= window:
                    done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()  # an error no change caught is raised here, as gather did
                running.add(asyncio.ensure_future(self._change(change, stop)))
            if running:
                await asyncio.gather(*running)
        except BaseException:
            for task in running:
                task.cancel()
            raise

    def _vendor_slot(self, provider: str) -> asyncio.Semaphore:
        """Changes of one vendor wait for its own limit *before* taking a shared slot, so
        a vendor at its limit does not hold slots another vendor could use."""
        slot = self._vendor_slots.get(provider)
        if slot is None:
            limit = self.providers[provider].capabilities.max_concurrency
            slot = self._vendor_slots[provider] = asyncio.Semaphore(max(1, limit))
        return slot

    async def _change(self, change, stop: asyncio.Event) -> None:
        if parts.by_parts(change):
            await self._by_parts(change, stop)
            return
        if change.same_as is not None:  # served from the render of another change of this plan: once it settles
            await first_of(stop, self._renders_for[change.same_as])
        done = None
        try:
            done = await self._carry_out(change, stop)
        finally:
            if change.address in self._renders_for:
                self._ran.add(change.address)
                if done is None or not self._following or self.halted:
                    self._settled(change.address)  # no render of it will be followed in this run
        await self._captions(change, done, stop)

    def _settled(self, address: str) -> None:
        """The render others of this plan are served from (``Change.same_as``) has settled:
        its output verified and cached, or it failed, stalled or will not be followed
        here. The changes held for it go on (``executor.from_cache`` serves them or says why not)."""
        event = self._renders_for.get(address)
        if event is not None:
            event.set()

    async def _by_parts(self, change: Change, stop: asyncio.Event) -> None:
        """A video by parts (docs/parts.md): its parts' changes carried out like whole
        videos', then, once every part is verified, the join (``apply.parts``); and the
        caption files of any video, once its output is published."""
        d = change.desired
        subs = parts.sub_changes(change)
        if subs:
            await asyncio.gather(*(self._carry_out(sub, stop, summary=False) for sub in subs))
        if change.action is Action.NOOP or d is None:
            if d is None and change.action is Action.DELETE:
                await self._carry_out(change, stop)
            return
        if not d.parts:  # no longer split: rendered whole
            done = await self._carry_out(change, stop)
            await self._captions(change, done, stop)
            return
        if change.action is Action.UPDATE:
            await self._carry_out(change, stop)
            async with self.lock(d.address):
                await parts.write_captions(self.context, d)
            return
        state, rows = await self._renders_of(d, stop)
        if state == parts.DONE:
            async with self.lock(d.address):
                if await parts.join(self.context, change, rows):
                    self.actions[d.address] = change.action
        elif state == parts.WAITING:
            self.emit(Kind.WARNING, d.address, d.provider,
                      detail="its parts are still rendering: the next `reconciler apply` joins them (no render)")
        else:
            self.emit(Kind.ERROR, d.address, d.provider, detail=f"not joined: {state}; the next plan shows what "
                                                                  "renders it again")

    async def _captions(self, change: Change, done: Action | None, stop: asyncio.Event) -> None:
        """A whole video's caption files, once its output is published (docs/parts.md)."""
        if done is None or not parts.captions_due(change):
            return
        if done is not Action.UPDATE and (await self._renders_of(change.desired, stop))[0] != parts.DONE:
            return
        async with self.lock(change.address):
            await parts.write_captions(self.context, change.desired)

    async def _renders_of(self, d, stop: asyncio.Event) -> tuple[str, list]:
        """Wait while a render ``d`` is made of is followed in this run; then where they stand."""
        event = self._awaited.setdefault(d.address, asyncio.Event())
        try:
            while True:
                event.clear()
                state, rows = await parts.progress(self.context, d)
                if (state != parts.WAITING or stop.is_set() or self.halted or not self._following
                        or not parts.waiting_on(self.context, d)):
                    return state, rows
                await first_of(stop, event, timeout=30.0)
        finally:
            self._awaited.pop(d.address, None)

    async def _carry_out(self, change, stop: asyncio.Event, *, summary: bool = True) -> Action | None:
        try:
            vendor_slot = self._vendor_slot(change.provider) if executor.calls_vendor(change) else nullcontext()
        except ReconcilerError as exc:  # e.g. missing credentials
            self.emit(Kind.ERROR, change.address, change.provider, detail=str(exc))
            return None
        async with vendor_slot, self._slots:
            if stop.is_set() or self.halted:
                self.emit(Kind.SKIPPED, change.address, change.provider, detail=f"{change.action.value} not started")
                return None
            try:
                async with self.lock(change.address):
                    done = await executor.run(self.context, change)
                if done is not None and summary:
                    self.actions[change.address] = done
                return done
            except ReconcilerError as exc:  # e.g. missing credentials, a state write refused
                self.emit(Kind.ERROR, change.address, change.provider, detail=str(exc))
                return None

    # -- following renders ------------------------------------------------------------------

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Poll tracked renders (downloading each output as it finishes) until none is
        left and no ``execute`` runs, or ``stop`` is set; calls in flight are let finish."""
        stop = stop or asyncio.Event()
        self._following += 1
        try:
            await self._wait(stop)
        finally:
            self._following -= 1

    async def _wait(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.halted:
            for item in self.tracker.take_due(self.clock()):
                self._spawn(self._poll(item))
            if not self.tracker.active() and not self._executing and not self._inflight:
                break  # stalled renders are not waited for (see poller): refresh and watch follow them
            due = self.tracker.next_due()
            self._wake.clear()
            await first_of(stop, self._wake, timeout=None if due is None else max(0.0, due - self.clock()))
        await self.drain()

    async def poll_once(self) -> None:
        """Poll every tracked render once (refresh), downloading finished outputs."""
        items = self.tracker.take_due(self.clock(), everything=True)
        await asyncio.gather(*(self._poll(item) for item in items))

    async def _poll(self, item) -> None:
        """``follow.poll``, and an error it did not expect reported, not left as "Task
        exception was never retrieved" with the render marked busy for ever (which kept
        ``wait`` from ending); a local OS error (disk, permissions) halts the engine."""
        try:
            await follow.poll(self.context, item)
            if item.stalled and not item.stall_reported and self.tracker.get(item.address) is item:
                item.stall_reported = True
                self.emit(Kind.STALLED, item.address, item.provider, item.task_id, overdue.stalled_message(
                    item.address, item.provider, overdue.stall_after(self.config, item.provider)))
        except Exception as exc:  # noqa: BLE001 - reported here; the render stays as recorded
            self.tracker.release(item)
            self.emit(Kind.ERROR, item.address, item.provider, item.task_id,
                      f"{type(exc).__name__}: {exc} (still recorded as before: run `reconciler refresh` "
                      "once this is fixed)")
            if isinstance(exc, OSError):
                self.halt(f"{exc}: free disk space or fix the path, then run `reconciler refresh`")

    async def check_outputs(self) -> list[str]:
        """``refresh``: check every published output (``published.check``); download again
        now those the vendor can give again. Returns the addresses lost."""
        lost, refetch = await published.check(self.context, self.parallelism)
        if refetch:
            await self._fetch_again(refetch)
            recorded = await self.db(self.store.recorded)
            lost += [a for a in refetch if a in recorded and not recorded[a].has_output]
        return lost

    async def _fetch_again(self, addresses: list[str]) -> None:
        """Poll and download ``addresses`` now, each up to ``follow.DOWNLOAD_TRIES`` times
        (a link the vendor no longer serves is then lost; see ``follow``)."""
        for attempt, pause in enumerate(backoff.pauses(follow.DOWNLOAD_TRIES, lambda _: follow.DOWNLOAD_RETRY_DELAY)):
            pending = [item for item in map(self.tracker.get, addresses) if item is not None]
            if not pending:
                return
            if attempt:
                await asyncio.sleep(pause)
            await asyncio.gather(*(self._poll(item) for item in pending))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._inflight.discard(task)
        self._wakeup()

    def _wakeup(self) -> None:
        self._wake.set()

    async def drain(self) -> None:
        """Wait for the polls and downloads in flight."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    def abort(self) -> None:
        """Cancel everything in flight (a second Ctrl-C)."""
        for task in list(self._inflight):
            task.cancel()

    async def close(self) -> None:
        """Write the manifest one last time and close the providers this engine built.
        A manifest that cannot be written, or a state that cannot be read for it (a
        PostgreSQL state unreachable), halts (``halted`` says why), it does not raise."""
        try:
            await self.manifest.aflush()
        except (ManifestError, StateWriteError) as exc:
            self.halt(str(exc))
        finally:
            self._db.shutdown(wait=True)
            built = self.providers.built() if isinstance(self.providers, ProviderSet) else self.providers.values()
            for provider in built:
                await provider.aclose()

