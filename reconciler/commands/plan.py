"""`reconciler plan`: load specs and state (read-only), plan, and show or save the plan.

Planning makes no network call: with outputs in a bucket (docs/outputs.md) it trusts the
state about each object (``refresh`` checks them with a HEAD each), so a plan needs
neither the bucket nor its credentials, and never imports the S3 library.

Planning never writes anything but the ``--out`` file (never one the tool manages:
``saved_plan.check_out_path``, checked before anything is read): the state DB is
opened read-only and a missing one reads as empty (it is not created). The JSON document
goes to stdout alone; notes about a saved file go to stderr in ``--json`` mode so
stdout stays parseable.

A plan over ``budget:`` is still shown in full (text, JSON or Markdown on stdout: what
would have been rendered), then refused: the refusal on stderr, exit 1, no ``--out``
file written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.commands import specwarn
from reconciler.config import account as config_account
from reconciler.model import PlanOptions
from reconciler.outputs import open_outputs
from reconciler.planning import planner, view
from reconciler.state import outputs_location
from reconciler.state import store as state_store
from reconciler.util import gcpause


def run(project, as_json: bool, as_markdown: bool, out: Path | None, targets, replace, detailed_exitcode: bool,
        allow_mass_delete: bool, allow_over_budget: bool, variables: dict[str, str], no_cache: bool = False) -> int:
    with gcpause.paused():  # a short process building ~10^5 acyclic objects
        return _run(project, as_json, as_markdown, out, targets, replace, detailed_exitcode, allow_mass_delete,
                    allow_over_budget, variables, no_cache)


def _run(project, as_json: bool, as_markdown: bool, out: Path | None, targets, replace, detailed_exitcode: bool,
         allow_mass_delete: bool, allow_over_budget: bool, variables: dict[str, str], no_cache: bool) -> int:
    from reconciler.specs import loader  # the heaviest import; only after arguments parsed

    config = project.config()
    state = state_store.backend(config)  # an unusable `state` setting fails before anything is written
    if out is not None:
        from reconciler.planning import saved_plan  # only for --out: atomic writes, json, tempfile
        from reconciler.specs import cache

        out = out if out.is_absolute() else config.root / out
        saved_plan.check_out_path(config, out, spec_cache=config.state_dir / cache.CACHE_DIR)
    load = loader.load_specs(config, variables)
    desired = load.desired()
    specwarn.report(config, load)
    # intents left by a dead writer (the lock is free) read as unknown, as apply will see them
    where = open_outputs(config)
    recorded, generation, cached = state_store.read_plan_inputs(config, recovered=not state.lock().held(),
                                                                with_cache=not no_cache, location=where.cache_location())
    outputs_location.require(config, recorded)  # `outputs:` switched without `outputs migrate`: refused
    recorded = where.notice_missing(recorded)  # no network: trusts a bucket
    options = PlanOptions(targets=frozenset(targets), replace=frozenset(replace),
                          allow_mass_delete=allow_mass_delete, max_delete_share=config.max_delete_share,
                          use_cache=not no_cache, cached=cached, place=where.place(),
                          allow_over_budget=allow_over_budget, keep_deleted_outputs=config.file.keep_deleted_outputs,
                          accounts=config_account.accounts(config))
    plan = planner.make_plan(desired, recorded, options, unservable=lambda fingerprints: where.cache_unservable(
        state_store.read_cache_entries(config, fingerprints)))
    cost = refused = None
    if config.file.budget is not None or config.has_prices:
        from reconciler.planning import budget  # only when configured: a plain plan pays nothing for it

        cost = budget.Cost.of(plan, config)
        refused = budget.refusal(plan, config.file.budget, allow_over_budget=allow_over_budget)
    if out is not None and refused is None:  # a refused plan is shown, never saved
        saved_plan.save_plan(out, plan, options=options, variables=variables, specs_digest=load.digest,
                           state_generation=generation, config_digest=config.digest())
    if as_json:
        sys.stdout.write(view.plan_json_text(plan, cost))
        sys.stdout.flush()
    elif as_markdown:
        from reconciler.planning import markdown  # only for --markdown

        sys.stdout.write(markdown.plan_markdown(plan, cost))
        sys.stdout.flush()
    else:
        from rich.console import Console

        view.print_plan(plan, Console(stderr=False), cost)
    if refused is not None:  # after the plan, so a person sees what would have been rendered
        raise refused
    if out is not None:
        _print_saved(out, config.root, to_stderr=as_json or as_markdown)
    return 2 if detailed_exitcode and plan.has_changes else 0


def _print_saved(out: Path, root: Path, *, to_stderr: bool) -> None:
    try:
        shown = out.relative_to(root).as_posix()
    except ValueError:
        shown = str(out)
    stream = sys.stderr if to_stderr else sys.stdout
    print(f"\nSaved the plan to {shown}. To carry out exactly this plan, run `reconciler apply {shown}`.",
          file=stream)
