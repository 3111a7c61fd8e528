"""`reconciler apply [FILE]`: plan (or load a saved plan), ask, execute, wait, report.

The order matters and is the point of this module:

1. take the state lock *before* reading the state to plan against it (a second
   apply/refresh/watch fails at once, naming the holder);
2. a saved plan is checked against a fresh one made from its own request through the
   same recipe (``reconciler.recipe``), and refused if specs, vars, config or state
   moved (``planning.saved_plan``);
   a fresh plan is shown and needs ``yes`` (or ``--auto-approve``);
3. the engine executes it and, unless ``--no-wait``, downloads every output the
   moment its render finishes, also for unfinished renders found in state;
4. Ctrl-C stops new work, lets the calls in flight finish and be recorded, writes
   state and manifest and exits 130 saying what to run next (a second Ctrl-C
   abandons the calls in flight; their creates are recorded as unknown);
5. a summary, and exit 0 only when every video touched is finished (or was
   updated/deleted).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from reconciler import recipe
from reconciler.apply import executor
from reconciler.apply.engine import Engine, ProviderSet, to_collect
from reconciler.apply.events import make_hooks
from reconciler.config import account as config_account
from reconciler.errors import ReconcilerError
from reconciler.model import Action
from reconciler.outputs import open_outputs
from reconciler.planning import planner, saved_plan, view
from reconciler.planning.request import Request
from reconciler.state import outputs_location
from reconciler.state import store as state_store
from reconciler.state.store import Store, WriterLock

PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted: "
OK_STATES = {"finished", "updated", "deleted"}
SUBMITTED_OK = OK_STATES | {"rendering", "downloading"}


def run(project, request: Request, *, plan_file: Path | None = None, auto_approve: bool = False,
        no_wait: bool = False, parallelism: int | None = None) -> int:
    from rich.console import Console

    if plan_file is not None:
        refuse_plan_options(plan_file, request)
    config = project.config()
    out = Console()
    lock = state_store.writer_lock(config).acquire("apply")
    store = None
    try:
        report_takeover(lock)
        hooks = make_hooks()
        if config.file.notify:  # imported only when configured
            from reconciler.apply import notify

            hooks = notify.NotifyingHooks(hooks, notify.Notifier(config.file.notify))
        if plan_file is not None:
            store, engine, planned = _saved_plan(config, plan_file, hooks, parallelism)
        else:
            store, engine, planned = _fresh_plan(config, request, hooks, parallelism)
        plan = planned.plan
        outputs_location.check(config, store)  # `outputs:` switched without `outputs migrate`: refused
        view.print_plan(plan, out, planned.cost)
        if planned.refused is not None:  # over budget: exit 1 before asking, nothing sent
            raise planned.refused
        if plan.has_changes and plan_file is None and not auto_approve and not _approved(out):
            out.print("Apply cancelled.")
            return 1
        scope = _targeted(plan, planned.options.targets)
        check_credentials(config, _providers_needed(plan, store, wait=not no_wait, scope=scope))
        outputs_location.record(config, store)  # approved: from now on outputs are published there
        started = time.monotonic()
        interrupted = asyncio.run(_carry_out(engine, plan, hooks, wait=not no_wait, scope=scope))
        return summarize(out, engine, time.monotonic() - started, interrupted=interrupted, no_wait=no_wait)
    finally:
        if store is not None:
            store.close()
        lock.release()


def refuse_plan_options(plan_file: Path, request: Request) -> None:
    """A saved plan carries its own request: planning options given with FILE would be
    ignored, so they are refused before anything is read or locked."""
    given = request.given()
    if given:
        raise ReconcilerError(
            f"apply {plan_file}: {', '.join(given)} cannot be used with a saved plan, which carries its own "
            f"options and variables (they would be ignored). Nothing was changed. Give them to "
            f"`reconciler plan ... --out {plan_file}` instead, then run `reconciler apply {plan_file}`.")


def report_takeover(lock: WriterLock) -> None:
    holder = lock.taken_over
    if holder is not None:
        print(f"Note: took over the lock left by pid {holder.pid} ({holder.command} on {holder.host}, "
              f"since {holder.since}), which is no longer running.", file=sys.stderr)


def _providers_needed(plan, store: Store, *, wait: bool, scope: set[str] | None) -> set[str]:
    # a change the render cache serves calls no vendor (a damaged entry is not rendered instead)
    needed = {c.provider for c in plan.changes
              if c.action not in (Action.NOOP, Action.UPDATE) and (not c.from_cache or executor.calls_vendor(c))}
    if wait:
        needed |= {v.provider for v in store.recorded().values()
                   if to_collect(v) and (scope is None or v.address in scope)}
    return needed


def check_credentials(config, providers: set[str]) -> None:
    """Fail before the first call (once, clearly) when a needed vendor has no credentials,
    or outputs go to a bucket whose credentials are not in the environment (a render
    would be paid for and then could not be published)."""
    for name in sorted(providers):
        config.credentials(name)
    if providers:
        open_outputs(config).ready()


def _fresh_plan(config, request: Request, hooks, parallelism):
    from reconciler.commands import specwarn

    load = recipe.load(config, request)
    desired = load.desired()
    specwarn.report(config, load)
    store = state_store.open_store(config)
    engine = Engine(config, store, ProviderSet(config), hooks, parallelism, holder="apply")
    engine.recover()
    planned = recipe.make_plan(config, request, desired, recipe.store_state(store, request, engine.outputs),
                               engine.outputs, accounts=config_account.accounts(config))
    return store, engine, planned


def _saved_plan(config, plan_file: Path, hooks, parallelism):
    """Load FILE, plan again from its own request, refuse it if anything moved."""
    path = plan_file if plan_file.is_absolute() else config.root / plan_file
    saved = saved_plan.load_plan(path)
    load = recipe.load(config, saved.request)
    # we hold the lock: intents left pending are a dead writer's, read as unknown (as `plan` did)
    where = open_outputs(config)
    seen = recipe.read_state(config, saved.request, where, recovered=True)
    planned = recipe.make_plan(config, saved.request, load.desired(), seen, where,
                               accounts=config_account.accounts(config))
    saved_plan.check_fresh(saved, specs_digest=load.digest, state_generation=seen.generation,
                           config_digest=config.digest(), replanned=planned.plan)
    store = state_store.open_store(config)
    engine = Engine(config, store, ProviderSet(config), hooks, parallelism, holder="apply")
    engine.recover()  # makes real what the plan already assumed
    return store, engine, planned


def _approved(out) -> bool:
    """Ask for ``yes``. Like Terraform, an answer piped on stdin (``echo yes | reconciler
    apply``) counts; only a stdin with no answer at all (closed, /dev/null) is refused."""
    if sys.stdin is None or not sys.stdin.isatty():
        print(PROMPT, end="", flush=True)
        answer = sys.stdin.readline() if sys.stdin is not None else ""
        if not answer:
            print()
            raise ReconcilerError("not applying: there is no terminal to ask for approval. Pass --auto-approve, "
                                  "or save a plan with `reconciler plan --out FILE` and run "
                                  "`reconciler apply FILE`.")
        print()
        return answer.strip() == "yes"
    out.print()
    try:
        return input(PROMPT).strip() == "yes"
    except EOFError:
        return False


def _targeted(plan, targets) -> set[str] | None:
    """The addresses a ``--target`` run may touch (None: all): the plan's own rule."""
    if not targets:
        return None
    return {c.address for c in plan.changes if any(planner.matches_target(t, c.address) for t in targets)}


async def _carry_out(engine: Engine, plan, hooks, *, wait: bool, scope: set[str] | None) -> int | None:
    """Execute (and wait). Returns the signal number that interrupted it, or None."""
    stop = asyncio.Event()
    caught: list[int] = []
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        caught.append(signum)
        if len(caught) == 1:
            print("\nInterrupted: no new renders will be started; waiting for the calls in flight "
                  "(press Ctrl-C again to abandon them).", file=sys.stderr)
            stop.set()
        else:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    hooks.start()
    try:
        if wait:
            await engine.track_unfinished(scope, deleting={c.address for c in plan.changes
                                                           if c.action is Action.DELETE})
            await asyncio.gather(engine.execute(plan, stop), engine.wait(stop))
        else:
            await engine.execute(plan, stop)
    except asyncio.CancelledError:
        engine.abort()
        await engine.drain()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        hooks.close()
        await engine.close()
    return caught[0] if caught else None


def summarize(out, engine: Engine, elapsed: float, *, interrupted: int | None, no_wait: bool) -> int:
    """Print what happened; return the exit code."""
    done = list(engine.actions.values())
    counts = engine.tally.counts()
    line = (f"{done.count(Action.CREATE)} created, {done.count(Action.REPLACE)} replaced, "
            f"{done.count(Action.UPDATE)} updated, {done.count(Action.DELETE)} deleted; "
            f"{counts.get('finished', 0)} finished, {counts.get('failed', 0) + counts.get('cancelled', 0)} failed, "
            f"{counts.get('unknown', 0)} unknown")
    states = engine.tally.states
    failed = sorted(a for a, s in states.items() if s in ("failed", "cancelled"))
    unknown = sorted(a for a, s in states.items() if s == "unknown")
    running = sorted(a for a, s in states.items() if s in ("submitting", "rendering", "downloading"))
    stalled = sorted(a for a, s in states.items() if s == "stalled")
    out.print()
    title = ("Stopped" if engine.halted else "Interrupted" if interrupted else "Submitted" if no_wait
             else "Apply complete")
    out.print(f"[bold]{title}:[/bold] {line} ({elapsed:.1f}s).", highlight=False, soft_wrap=True)
    _list(out, "Failed:", failed, engine.errors)
    if unknown:
        _list(out, "Unknown: the create was sent but its answer never arrived. It may have been paid for, so "
                   "it is not sent again; to render one again on purpose, run "
                   "`reconciler apply --replace ADDRESS`:", unknown, engine.errors)
    others = sorted(a for a, s in states.items() if s == "other account")
    _list(out, "Owned by another account: not polled, downloaded, cancelled or rendered again by this checkout:",
          others, engine.errors)
    if stalled:
        _list(out, "Stalled: still rendering long past the usual time; not waited for (`reconciler refresh` "
                   "or `reconciler watch` keep following them):", stalled, engine.errors)
    if engine.halted:
        _halted(out, engine, running)
        return 1
    if interrupted:
        out.print(f"{len(running)} render(s) may still be running at the vendors. State and manifest are saved. "
                  "Run `reconciler refresh` later to collect finished outputs, or `reconciler apply` to carry "
                  "out the rest of the plan.", highlight=False, soft_wrap=True)
        return 128 + interrupted
    if no_wait:
        if running:
            out.print(f"{len(running)} render(s) are running at the vendors. Run `reconciler refresh` "
                      "(or `reconciler apply` again) later to download the outputs.", highlight=False,
                      soft_wrap=True)
        return 0 if all(s in SUBMITTED_OK for s in states.values()) else 1
    return 0 if all(s in OK_STATES for s in states.values()) else 1


def _halted(out, engine: Engine, running: list[str]) -> None:
    """A local write failed mid-run (state disk full, manifest path blocked): say what
    and what next. Renders already started keep running at the vendors."""
    from rich.text import Text

    out.print(Text(f"Stopped: {engine.halted}", style="bold red"), soft_wrap=True)
    out.print("No new work was started after this. What was recorded before is kept"
              + (f"; {len(running)} render(s) may still be running at the vendors" if running else "")
              + ". Once it is fixed, run `reconciler refresh` (then `reconciler apply` for the rest).",
              highlight=False, soft_wrap=True)


def _list(out, title: str, addresses: list[str], errors: dict[str, str]) -> None:
    if not addresses:
        return
    from rich.text import Text

    out.print(Text(title, style="bold red"), soft_wrap=True)
    for address in addresses:
        out.print(Text(f"  {address}: {errors.get(address) or 'no reason given'}"), soft_wrap=True)
