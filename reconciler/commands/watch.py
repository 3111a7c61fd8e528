"""`reconciler watch`: run the daemon in the foreground until SIGINT/SIGTERM.

The order is the point: take the state lock first and hold it for the whole life of
the process (a second watch, apply or refresh fails at once, naming this one); build
one ``Engine`` whose events are logged as lines on stderr (text, or JSON for a log
collector); run ``reconciler.watch.daemon.Daemon``; on the first signal stop taking new work
and let the calls in flight finish, on a second abandon them; then write the
manifest a last time, close the state and release the lock. Exit 0 after a clean
stop, 1 when it cannot start (config, lock), a local write failed (the state's disk
full, the manifest path blocked: the daemon stops at once, saying why) or it loses the
writer role while running.

``--standby`` (docs/team.md): when another writer holds the state, wait instead of
failing, logging once that this process is a standby and who leads, and try again
every ``STANDBY_POLL`` seconds; when the role frees (the leader stops, or dies and its
lock or lease runs out) take it and start as any watch does, with recovery first
(intents left pending become ``unknown``, unfinished renders are polled, finished
outputs downloaded). The same command on every machine: one leads. A SIGINT/SIGTERM
while waiting stops at once. A standby that leads and then loses the role (its lease
lapsed in a network partition) or the shared state itself (the database unreachable)
goes back to waiting, as a standby, instead of exiting: a blip of the database never
leaves a team without a daemon, and no process ever writes without the role. A state
that cannot be reached while waiting is waited for too (said once).

``--standby`` without ``--git-ref`` renders this checkout's working tree, uncommitted
edits included: on a team, whichever machine leads would render its own files. That is
said once, at start, with the command that renders what the team committed instead.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading

from reconciler.errors import ReconcilerError
from reconciler.planning.request import Request
from reconciler.watch.eventlog import EventLog, LogHooks

STANDBY_POLL = 1.0  # seconds between a standby's tries to take the role
STANDBY_WORKING_TREE = (
    "--standby without --git-ref renders this checkout's working tree, uncommitted edits of this machine "
    "included, whenever this process leads; on a team, to render only what was committed run "
    "`reconciler watch --standby --git-ref origin/main` on every machine")


def run(project, request: Request, *, interval: float = 180.0, log_format: str = "text", standby: bool = False,
        git_ref: str | None = None) -> int:
    log = EventLog(sys.stderr, log_format)
    try:
        return _run(project, log, request, interval, standby, git_ref)
    except ReconcilerError as exc:
        log.error("error", f"{exc}")
        return 1


def _take_role(config, log: EventLog, standby: bool):
    """The writer lock, at once; or, as a standby, once it frees (None: stopped while waiting)."""
    from reconciler.errors import LockHeldError, StateUnreachableError
    from reconciler.state import store as state_store

    if not standby:
        return state_store.writer_lock(config).acquire("watch")
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    waiting_on = None
    try:
        while True:
            try:
                return state_store.writer_lock(config).acquire("watch")
            except LockHeldError:
                try:
                    holder = state_store.writer_lock(config).holder()
                except StateUnreachableError:
                    holder = None
                who = holder.describe() if holder else "another writer"
                if who != waiting_on:
                    log.info("standby", f"standby: {who} holds the state; waiting to take over "
                                        f"(checking every {STANDBY_POLL:g}s)")
                    waiting_on = who
            except StateUnreachableError as exc:
                if waiting_on != "unreachable":
                    log.warning("standby", f"standby: {exc}; waiting for it (checking every {STANDBY_POLL:g}s)")
                    waiting_on = "unreachable"
            if stop.wait(STANDBY_POLL):
                log.info("stop", "stopped while a standby; nothing was changed")
                return None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(project, log: EventLog, request: Request, interval: float, standby: bool, git_ref: str | None) -> int:
    from reconciler.watch.gitref import GitRef

    config = project.config()
    # --git-ref: REF must name a commit now (else exit 1); the specs, vars, config and
    # decks then come from its tree, state, manifest and outputs stay in the project.
    source = GitRef(config.root, git_ref, config.state_dir) if git_ref else None
    if standby and source is None:
        log.warning("standby", STANDBY_WORKING_TREE)
    while True:
        lock = _take_role(config, log, standby)
        if lock is None:
            return 0
        if standby:
            log.info("start", "took the writer role: leading now")
        code, wait_again = _lead(config, lock, log, request, interval, source)
        if not (standby and wait_again):
            return code
        log.warning("standby", "standby again: this process no longer leads; waiting to take the role back")


def _lead(config, lock, log: EventLog, request: Request, interval: float, source) -> tuple[int, bool]:
    """Run the daemon while holding ``lock``; release it. Returns the exit code and
    whether the role was lost to a lapsed lease or an unreachable state (rather than
    ended by a signal or a local failure), which a standby waits out."""
    import dataclasses

    from reconciler.apply.engine import Engine, ProviderSet
    from reconciler.errors import StateUnreachableError
    from reconciler.state import store as state_store
    from reconciler.watch.daemon import Daemon

    lost: list[bool] = []
    signalled: list[int] = []
    try:
        if lock.taken_over is not None:
            log.warning("start", f"took over the lock left by {lock.taken_over.describe()}, which is no longer running")
        try:
            store = state_store.open_store(config)
        except StateUnreachableError as exc:
            log.error("error", f"{exc}")
            return 1, True
        try:
            from reconciler.state import outputs_location

            outputs_location.settle(config, store)  # `outputs:` switched without `outputs migrate`: refused
            hooks = LogHooks(log)
            engine_config = config if source is None else dataclasses.replace(config, inputs_root=source.current)
            engine = Engine(engine_config, store, ProviderSet(config), hooks, holder="watch")
            daemon = Daemon(config, request, engine, log, interval=interval, git_ref=source)
            hooks.listener = daemon.on_event
            notifier = None
            if config.file.notify:  # imported only when configured
                from reconciler.apply import notify

                notifier = notify.Notifier(config.file.notify)
                hooks.listener = lambda event: (daemon.on_event(event), notifier.event(event))
                daemon.notify_budget = notifier.budget
            try:
                asyncio.run(_serve(daemon, engine, hooks, log, lock, lost, signalled))
            finally:
                if notifier is not None:
                    notifier.close()
        finally:
            store.close()
    finally:
        try:
            lock.release()
        except StateUnreachableError:
            pass  # the lease then lapses on its own
    unreachable = isinstance(engine.halt_cause, StateUnreachableError)
    if lost:
        log.error("stop", "stopped: this process lost the writer role (its lease lapsed); another writer may lead")
        return 1, not signalled
    if engine.halted:
        log.error("stop", f"stopped: {engine.halted}; the lock is released")
        return 1, unreachable and not signalled
    log.info("stop", "stopped; state and manifest are written, the lock is released")
    return 0, False


async def _serve(daemon, engine, hooks: LogHooks, log: EventLog, lock=None, lost: list | None = None,
                 signals: list[int] | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = [] if signals is None else signals

    def on_lost() -> None:  # a lease renewal found the role gone: stop taking work (writes are refused anyway)
        if lost is not None:
            lost.append(True)
        log.error("lease", "the writer lease was lost (expired or taken over): stopping")
        stop.set()

    if hasattr(lock, "on_lost"):
        lock.on_lost = lambda: loop.call_soon_threadsafe(on_lost)

    def on_signal(signum: int) -> None:
        signals.append(signum)
        name = signal.Signals(signum).name
        if len(signals) == 1:
            log.info("signal", f"{name}: stopping (send it again to abandon the calls in flight)")
            stop.set()
        else:
            log.warning("signal", f"{name} again: abandoning the calls in flight")
            daemon.abort()

    def on_halt(why: str) -> None:  # a local write failed (state disk full, manifest blocked)
        log.error("error", f"stopping: {why}")
        stop.set()

    engine.on_halt = on_halt
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await daemon.run(stop)
    finally:
        if hooks.skipped:
            log.info("stop", f"{hooks.skipped} planned change(s) not started; the next run picks them up")
        try:
            await engine.close()
        except Exception as exc:  # noqa: BLE001 - the lock must still be released
            log.error("error", f"final manifest write failed: {exc}")
