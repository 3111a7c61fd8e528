"""`reconciler watch`: run the daemon in the foreground until SIGINT/SIGTERM.

The order is the point: take the state lock first and hold it for the whole life of
the process (a second watch, apply or refresh fails at once, naming this one); build
one ``Engine`` whose events are logged as lines on stderr (text, or JSON for a log
collector); run ``reconciler.watch.daemon.Daemon``; on the first signal stop taking new work
and let the calls in flight finish, on a second abandon them; then write the
manifest a last time, close the state and release the lock. Exit 0 after a clean
stop, 1 when it cannot start (config, lock) or a local write failed (the state's disk
full, the manifest path blocked: the daemon stops at once, saying why).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from reconciler.errors import ReconcilerError
from reconciler.watch.eventlog import EventLog, LogHooks


def run(project, interval: float, log_format: str, allow_mass_delete: bool, variables: dict[str, str],
        git_ref: str | None = None) -> int:
    log = EventLog(sys.stderr, log_format)
    try:
        return _run(project, log, interval, allow_mass_delete, variables, git_ref)
    except ReconcilerError as exc:
        log.error("error", f"{exc}")
        return 1


def _run(project, log: EventLog, interval: float, allow_mass_delete: bool, variables: dict[str, str],
         git_ref: str | None) -> int:
    import dataclasses

    from reconciler.apply.engine import Engine, ProviderSet
    from reconciler.state import store as state_store
    from reconciler.watch.daemon import Daemon
    from reconciler.watch.gitref import GitRef

    config = project.config()
    # --git-ref: REF must name a commit now (else exit 1); the specs, vars, config and
    # decks then come from its tree, state, manifest and outputs stay in the project.
    source = GitRef(config.root, git_ref, config.state_dir) if git_ref else None
    lock = state_store.writer_lock(config).acquire("watch")
    try:
        if lock.taken_over is not None:
            log.warning("start", f"took over the lock left by {lock.taken_over.describe()}, which is no longer running")
        store = state_store.open_store(config)
        try:
            hooks = LogHooks(log)
            engine_config = config if source is None else dataclasses.replace(config, inputs_root=source.current)
            engine = Engine(engine_config, store, ProviderSet(config), hooks, holder="watch")
            daemon = Daemon(config, variables, engine, log, interval=interval, allow_mass_delete=allow_mass_delete,
                            git_ref=source)
            hooks.listener = daemon.on_event
            asyncio.run(_serve(daemon, engine, hooks, log))
        finally:
            store.close()
    finally:
        lock.release()
    if engine.halted:
        log.error("stop", f"stopped: {engine.halted}; the lock is released")
        return 1
    log.info("stop", "stopped; state and manifest are written, the lock is released")
    return 0


async def _serve(daemon, engine, hooks: LogHooks, log: EventLog) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[int] = []

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
