"""The one reconcile recipe: specs and state in, a plan and its budget verdict out.

``plan``, ``apply`` (a fresh plan, and a saved plan planned again to check it) and the
``watch`` daemon all decide what to do the same way, here, from one ``Request``
(``planning.request``, built once by the CLI):

1. ``load``: the spec files with the request's variables;
2. the state, read by the caller the way its lock allows (``read_state``: read-only,
   for ``plan`` and before a saved plan's recovery; ``store_state``: a writer's open
   store, for ``apply`` and ``watch``): the recorded videos and the render cache;
3. ``make_plan``: every published output that is missing or damaged noticed
   (``notice_missing``: one ``stat`` and a few MP4 box headers each, no network; then
   fetched again or rendered again; the daemon at its start and each full re-check), the planner's options made from the request, the plan; the daemon's
   restraint (``watch/policy``) applied when given; then the budget checked
   (``budget:`` and prices, docs/budget.md): the cost to show and the refusal, which the
   caller raises after showing the plan.

What each caller does around it stays with it: the lock, the engine, what is shown,
the saved file, the daemon's last good specs and held-back changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from reconciler.model import DesiredVideo, Plan, PlanOptions, RecordedVideo
from reconciler.planning import planner
from reconciler.planning.request import Request
from reconciler.state import store as state_store

if TYPE_CHECKING:
    from reconciler.config import Config
    from reconciler.outputs.base import OutputsStore
    from reconciler.planning.budget import Cost, OverBudgetError
    from reconciler.specs.loader import SpecLoad
    from reconciler.specs.memo import SpecMemo
    from reconciler.state.store import Store


@dataclass(frozen=True)
class StateView:
    """What a plan reads of the state."""

    recorded: dict[str, RecordedVideo]
    cached: frozenset[str]  # render fingerprints the cache holds here (empty without use_cache)
    entries: Callable[[frozenset[str]], list[dict]]  # their index rows, read only when the planner asks
    generation: int | None = None  # read-only reads: what a saved plan is checked against


@dataclass(frozen=True)
class Planned:
    plan: Plan
    options: PlanOptions
    cost: Cost | None  # None: no budget and no price configured
    refused: OverBudgetError | None  # over budget and not allowed: raise it once the plan is shown


def load(config: Config, request: Request, memo: SpecMemo | None = None) -> SpecLoad:
    """Every spec file, rendered with the request's variables (``memo``: the daemon's)."""
    from reconciler.specs import loader  # the heaviest import: only once arguments are parsed

    return loader.load_specs(config, dict(request.variables), memo=memo)


def read_state(config: Config, request: Request, outputs: OutputsStore, *, recovered: bool) -> StateView:
    """The state through one read-only open (nothing created). ``recovered``: intents
    left pending read as unknown, as the writer that recovers them will see them."""
    recorded, generation, cached = state_store.read_plan_inputs(
        config, recovered=recovered, with_cache=request.use_cache, location=outputs.cache_location())
    return StateView(recorded, cached, lambda fingerprints: state_store.read_cache_entries(config, fingerprints),
                     generation)


def store_state(store: Store, request: Request, outputs: OutputsStore,
                recorded: dict[str, RecordedVideo] | None = None) -> StateView:
    """The state through a writer's open ``store`` (``recorded``: the caller's own copy)."""
    cached = store.cached_fingerprints(outputs.cache_location()) if request.use_cache else frozenset()
    return StateView(store.recorded() if recorded is None else recorded, cached,
                     lambda fingerprints: state_store.cache_entries(store, fingerprints))


def make_plan(config: Config, request: Request, desired: Mapping[str, DesiredVideo], state: StateView,
              outputs: OutputsStore, *, accounts: Mapping[str, str], notice: bool = True,
              restrain: Callable[[Plan], Plan] | None = None) -> Planned:
    """Missing outputs noticed, planned, restrained (the daemon), the budget checked.
    A ``PlanError`` (mass delete, ``prevent_destroy``) is raised as it is. ``notice``
    False: the outputs are not looked at this time (the daemon looks at its start and at
    each full re-check, not on every save: a look opens every published file)."""
    recorded = outputs.notice_missing(state.recorded) if notice else state.recorded  # no network: trusts a bucket
    options = request.options(config, cached=state.cached, place=outputs.place(), accounts=accounts)
    plan = planner.make_plan(desired, recorded, options,
                             unservable=lambda fingerprints: outputs.cache_unservable(state.entries(fingerprints)))
    if restrain is not None:
        plan = restrain(plan)
    if config.file.budget is None and not config.has_prices:
        return Planned(plan, options, None, None)
    from reconciler.planning import budget  # only when configured: a plain plan pays nothing for it

    return Planned(plan, options, budget.Cost.of(plan, config),
                   budget.refusal(plan, config.file.budget, allow_over_budget=request.allow_over_budget))
