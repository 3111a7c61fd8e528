"""The daemon: keep the renders in line with the specs until stopped.

Level-based, like a controller-runtime reconciler (ARCHITECTURE habit 12): a file
event, the periodic timer and a retry coming due all mean one thing, "look again",
and looking again is always the same reconcile-once that ``apply`` does: load the
specs, plan against the recorded state, carry the plan out with the ``Engine``. What
an event said is never trusted, so a missed or merged event costs nothing but a
little latency, healed at the latest by the next ``interval`` tick.

Three tasks share one event loop and one ``Engine``:

- the **file watcher** (``watch_files``) pokes the reconcile loop with the paths its
  events named: only those, and files whose stat changed, are read again
  (``specs.memo``; the periodic full re-check reads everything). With ``--git-ref
  REF`` (``gitref``) the working tree is not watched at all: the inputs are REF's
  committed tree, and the ref watcher pokes when REF moves;
- the **reconcile loop** runs reconcile-once after a short debounce, one at a time
  (two overlapping plans could both create the same video), and also on the timer,
  when a transient failure's backoff or a deferred delete comes due, and when a
  ``git`` operation that was in progress has finished;
- the **poll loop** keeps ``Engine.wait`` running while renders are unfinished,
  so outputs are downloaded the moment they finish, whatever the reconcile loop does.

What keeps an unattended daemon safe, each in its own module: broken spec files keep
their last good videos (``desired_cache``); the plan's mass-delete guard and
``prevent_destroy`` refuse whole cycles (logged, nothing done); replaces that would
only repeat a failed render, and deletes that have not settled, are held back
(``watch_policy``). Plans are made by the recipe ``apply`` uses (``reconciler.recipe``);
published outputs missing or damaged are looked for at the start and at each full
re-check (not on every save: the look opens every published file), then fetched again
or rendered again. Every event is one log line (``eventlog``).

``stop`` (SIGINT/SIGTERM) stops new work at once; the calls in flight get ``GRACE``
seconds to finish and be recorded, then are abandoned (a create cut off is recorded
``unknown``, never re-sent). The caller then closes the engine (final manifest write)
and releases the lock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from reconciler import config as config_mod
from reconciler import recipe
from reconciler.apply.engine import Engine
from reconciler.apply.events import Kind
from reconciler.errors import ConfigError, PlanError, ReconcilerError
from reconciler.model import Action
from reconciler.planning.request import Request
from reconciler.specs.memo import SpecMemo
from reconciler.state import store as state_store
from reconciler.util import gcpause
from reconciler.util.aio import first_of
from reconciler.watch import policy
from reconciler.watch.desired import LastGood
from reconciler.watch.eventlog import EventLog
from reconciler.watch.files import FileWatcher, Targets
from reconciler.watch.gitref import GitError, GitRef
from reconciler.watch.recorded import RecordedCache
from reconciler.watch.report import CycleReport

DEBOUNCE = 0.03  # seconds of quiet after a file event before looking (saves come in bursts)
GRACE = 4.0  # seconds the calls in flight get to finish after a stop
RETRY_SOON = 0.5  # seconds before looking again while a git operation holds the index
FAILED_RETRY = 5.0  # seconds before looking again after a cycle failed unexpectedly
ENGINE_KEYS = ("state", "manifest", "outputs", "parallelism", "providers")  # fixed while running


class Daemon:
    def __init__(self, config: config_mod.Config, request: Request, engine: Engine, log: EventLog, *,
                 interval: float = 180.0, clock=time.monotonic, git_ref: GitRef | None = None):
        self.config, self.request, self.engine, self.log = config, request, engine, log
        self.interval, self.clock = interval, clock
        self.recorded = RecordedCache(engine.store)
        self.lastgood = LastGood()
        self.memo = SpecMemo()  # spec files not read again until an event or their stat says so
        self.report = CycleReport(log)
        self.policy = policy.Policy()
        self.stop = asyncio.Event()
        self._poke = asyncio.Event()
        self._work = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._executing: dict[str, str] = {}  # address -> fingerprint of a create/replace in execute
        self._retry_at: float | None = None
        self._look_at_outputs = True  # the first plan and each full re-check notice missing outputs (recipe)
        self._failed: str | None = None  # the unexpected error of the last cycle, logged once
        self.git_ref = git_ref  # None: the working tree; else the tree committed at REF (watch/gitref.py)
        self._git_dir = git_dir(config.root) if git_ref is None else None  # index.lock: working tree only
        self._watched = {config.root / config_mod.CONFIG_NAME, *config.vars_files}
        self.files = FileWatcher(self._targets(config), self.poke,
                                 lambda msg: log.warning("watch_error", msg))

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Recover, then watch and reconcile until ``stop`` is set; then wind down."""
        self.stop = stop
        where = f"{self.config.rel(self.config.specs_dir)}/" if self.git_ref is None else \
            f"{self.git_ref.ref} (committed, not the working tree)"
        self.log.info("start", f"watching {where} (full re-check every {self.interval:g}s)",
                      state=state_store.describe(self.config))
        await self.engine.track_unfinished()  # dead writers' intents -> unknown; renders -> tracked
        watcher = self.files.run(stop) if self.git_ref is None else \
            self.git_ref.run(stop, lambda: self.poke(set()), lambda msg: self.log.warning("watch_error", msg))
        self._tasks = [asyncio.create_task(c) for c in (self._poll_loop(), self._reconcile_loop(), watcher)]
        self.poke()
        await stop.wait()
        self.log.info("stop", "stopping: no new work; letting the calls in flight finish")
        _, pending = await asyncio.wait(self._tasks, timeout=GRACE)
        if pending:
            self.log.warning("stop", f"calls still in flight after {GRACE:g}s: abandoned (a create cut off "
                                     "is recorded as unknown and never sent again)")
            self.abort()
            await asyncio.gather(*pending, return_exceptions=True)

    def abort(self) -> None:
        """Stop now: cancel every call in flight (a second signal)."""
        self.stop.set()
        self.engine.abort()
        for task in self._tasks:
            task.cancel()

    def poke(self, paths: set[str] | None = None) -> None:
        """Look again soon (a file event). ``paths``: what the events named, read again
        for sure; None: anything may have changed (every spec file is read again)."""
        if paths is None:
            self.memo.forget()
        else:
            self.memo.changed(paths)
        self._poke.set()

    def on_event(self, event) -> None:
        """Every engine event (via ``eventlog.LogHooks``): track dirty rows and retries."""
        self.recorded.touch(event.address)
        fingerprint = self._executing.get(event.address)
        if event.kind is Kind.SUBMITTED:
            self.policy.backoff.clear(event.address)
        elif event.kind.about.retry and fingerprint is not None:
            due = self.policy.backoff.failed(event.address, fingerprint, self.clock())
            self.log.info("retry", f"will try again in {due - self.clock():.0f}s", address=event.address)

    # -- the loops ------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while not self.stop.is_set():
            try:
                await self.engine.wait(self.stop)
            except Exception as exc:  # noqa: BLE001 - one bad poll must not end the daemon
                self.log.error("error", f"polling failed: {exc!r}; polling again")
                await first_of(self.stop, timeout=1.0)
            await first_of(self.stop, self._work)
            self._work.clear()

    async def _reconcile_loop(self) -> None:
        next_full = self.clock() + self.interval
        while not self.stop.is_set():
            now = self.clock()
            dues = [t for t in (next_full, self.policy.next_due(now), self._retry_at) if t]
            await first_of(self.stop, self._poke, timeout=max(0.0, min(dues) - now))
            if self.stop.is_set():
                return
            if self._poke.is_set():
                await asyncio.sleep(DEBOUNCE)
            self._poke.clear()
            self._retry_at = None
            full = self.clock() >= next_full
            if full:
                next_full = self.clock() + self.interval
            try:
                await self.reconcile_once(full=full)
                self._failed = None
            except Exception as exc:  # noqa: BLE001 - log it (once), keep the daemon alive
                # a ReconcilerError is a message for a person (the state database unreachable...);
                # anything else is a bug, shown with its type
                said = f"{exc}" if isinstance(exc, ReconcilerError) else f"{exc!r}"
                if said != self._failed:
                    self.log.error("error", f"reconcile failed: {said}; trying again every {FAILED_RETRY:g}s")
                self._failed = said
                self._retry_at = self.clock() + FAILED_RETRY

    # -- reconcile once -------------------------------------------------------------------

    async def reconcile_once(self, *, full: bool = False) -> None:
        """Specs -> desired (last good where broken) -> plan -> held back -> execute."""
        if full:
            self._look_at_outputs = True
            self.memo.forget()  # the periodic re-check trusts nothing remembered
            self.recorded.invalidate()
            await self.engine.track_unfinished()
            self._work.set()
        started = time.perf_counter()
        root = self.config.root if self.git_ref is None else await self._snapshot()
        config = None if root is None else self._reload_config(root)
        if config is None or self._waiting_for_git() or self._specs_missing(config):
            return
        load = await asyncio.to_thread(recipe.load, config, self.request, self.memo)
        loaded = time.perf_counter()
        if self.stop.is_set():
            return
        if load.watched_files != self._watched or config.specs_dir != self.files.targets.specs_dir:
            self._watched = set(load.watched_files)
            self.files.retarget(self._targets(config))
        recorded = self.recorded.snapshot()
        resolved = self.lastgood.resolve(load, recorded)
        self.report.specs(resolved)
        self.report.warnings(config, load)
        where = self.engine.outputs
        seen = await asyncio.to_thread(recipe.store_state, self.engine.store, self.request, where, recorded)

        def restrain(plan):  # the daemon's own: reported, then held back (watch/policy)
            self.report.outcome_unknown(plan)
            self.engine.report_held(plan)
            plan, skips = self.policy.restrain(plan, resolved.held, self.clock())
            for skip in skips:
                self.report.skip(skip)
            return plan

        notice, self._look_at_outputs = self._look_at_outputs, False  # ~1 s for 10^4 outputs: not on every save
        try:
            with gcpause.paused():  # ~10^4 acyclic changes: a generation-2 scan in the middle doubled a save's wait
                planned = recipe.make_plan(config, self.request, resolved.videos, seen, where,
                                           accounts=self.engine.accounts(), notice=notice, restrain=restrain)
        except PlanError as exc:
            self.log.once(("refused", str(exc)), "plan_refused", f"nothing done: {exc}", level="error")
            return
        self.log.forget_topic("refused")  # accepted again: a later refusal is news
        plan = planned.plan
        if not plan.has_changes:
            return
        if self._over_budget(planned):
            return
        self.report.plan(plan, load_ms=round(1000 * (loaded - started)),
                         plan_ms=round(1000 * (time.perf_counter() - loaded)))
        self._executing = {c.address: c.desired.fingerprint for c in plan.changes
                           if c.action in (Action.CREATE, Action.REPLACE)}
        running = self.engine.execute(plan, self.stop)
        self._work.set()
        try:
            await running
        finally:
            self._executing = {}

    def _over_budget(self, planned) -> bool:
        """An over-budget reconcile is refused (nothing sent), logged once per figures."""
        if planned.refused is None:
            self.log.forget_topic("over_budget")  # within budget again: a later refusal is news
            return False
        text = "; ".join(planned.refused.figures)
        if self.log.once(("over_budget", text), "over_budget",
                         f"nothing done: the plan is over budget: {text} (reconciler.yaml)", level="error"):
            self.notify_budget(text)
        return True

    def notify_budget(self, text: str) -> None:
        """Hook for the notifier (set by ``run``); nothing by default."""

    def _targets(self, config: config_mod.Config) -> Targets:
        own = (self.engine.config.state_dir, self.engine.config.outputs_dir)
        return Targets(config.specs_dir, self._watched, ignore=own)

    async def _snapshot(self) -> Path | None:
        """The project as committed at REF now (materialised when REF moved); None
        (logged once) while REF cannot be read: nothing planned, nothing deleted."""
        try:
            root, moved = await asyncio.to_thread(self.git_ref.snapshot)
        except (GitError, OSError) as exc:
            self.log.once(("git_ref_error", str(exc)), "git_ref_error", f"{exc}; nothing planned until it can be "
                          "read", level="error")
            return None
        self.log.forget_topic("git_ref_error")
        if moved:
            self.memo.forget()  # new paths anyway; nothing from the last commit's folder is trusted
            described = await asyncio.to_thread(self.git_ref.describe, self.git_ref.commit)
            self.log.info("git_ref", f"{self.git_ref.ref} is at {described}",
                          commit=self.git_ref.commit)
        return root

    def _reload_config(self, root: Path) -> config_mod.Config | None:
        """reconciler.yaml as it is now; None (logged once) while it is broken."""
        try:
            new = config_mod.load_config(root)
        except ConfigError as exc:
            at = "" if self.git_ref is None else f"{self.git_ref.ref} at {(self.git_ref.commit or '')[:12]}: "
            self.log.once(("config_error", str(exc)), "config_error",
                          f"{at}{exc}; nothing planned until it is fixed", level="error")
            return None
        self.log.forget_topic("config_error")
        fixed = [k for k in ENGINE_KEYS if getattr(new.file, k) != getattr(self.engine.config.file, k)]
        if fixed:
            self.log.once(("config", new.digest()), "config", f"{config_mod.CONFIG_NAME}: {', '.join(fixed)} "
                          "changed; restart watch for that to take effect", level="warning")
        self.config = new
        return new

    def _waiting_for_git(self) -> bool:
        if self._git_dir is None or not (self._git_dir / "index.lock").exists():
            self.log.forget(("git",))
            return False
        self.log.once(("git",), "wait", "a git operation is in progress; looking again when it has finished")
        self._retry_at = self.clock() + RETRY_SOON
        return True

    def _specs_missing(self, config: config_mod.Config) -> bool:
        if config.specs_dir.is_dir():
            self.log.forget(("specs_missing",))
            return False
        self.files.retarget(self._targets(config))
        self.log.once(("specs_missing",), "plan_refused", f"the specs folder {config.rel(config.specs_dir)}/ "
                      "is missing: nothing is planned (and nothing deleted) until it is back", level="error")
        return True


def git_dir(root: Path) -> Path | None:
    """The git directory of the repository holding ``root`` (None outside git)."""
    for folder in (root, *root.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                return (folder / text[len("gitdir:"):].strip()).resolve()
    return None

