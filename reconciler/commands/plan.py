"""`reconciler plan`: load specs and state (read-only), plan, and show or save the plan.

The deciding is the recipe's (``reconciler.recipe``, shared with ``apply`` and ``watch``);
this module adds the read-only state read, the rendering and the ``--out`` file, which
stores the ``Request`` so ``apply FILE`` plans again from exactly it.

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

from reconciler import recipe
from reconciler.commands import specwarn
from reconciler.config import account as config_account
from reconciler.outputs import open_outputs
from reconciler.planning import view
from reconciler.planning.request import Request
from reconciler.state import outputs_location
from reconciler.state import store as state_store
from reconciler.util import gcpause


def run(project, request: Request, *, render: str = "text", out: Path | None = None,
        detailed_exitcode: bool = False) -> int:
    """``render``: text, json or markdown (the plan on stdout)."""
    with gcpause.paused():  # a short process building ~10^5 acyclic objects
        return _run(project, request, render, out, detailed_exitcode)


def _run(project, request: Request, render: str, out: Path | None, detailed_exitcode: bool) -> int:
    config = project.config()
    state = state_store.backend(config)  # an unusable `state` setting fails before anything is written
    if out is not None:
        from reconciler.planning import saved_plan  # only for --out: atomic writes, json, tempfile
        from reconciler.specs import cache

        out = out if out.is_absolute() else config.root / out
        saved_plan.check_out_path(config, out, spec_cache=config.state_dir / cache.CACHE_DIR)
    load = recipe.load(config, request)
    desired = load.desired()
    specwarn.report(config, load)
    where = open_outputs(config)
    # intents left by a dead writer (the lock is free) read as unknown, as apply will see them
    seen = recipe.read_state(config, request, where, recovered=not state.lock().held())
    outputs_location.require(config, seen.recorded)  # `outputs:` switched without `outputs migrate`: refused
    planned = recipe.make_plan(config, request, desired, seen, where, accounts=config_account.accounts(config))
    plan, cost = planned.plan, planned.cost
    if out is not None and planned.refused is None:  # a refused plan is shown, never saved
        saved_plan.save_plan(out, plan, request=request, specs_digest=load.digest,
                             state_generation=seen.generation, config_digest=config.digest())
    if render == "json":
        sys.stdout.write(view.plan_json_text(plan, cost))
        sys.stdout.flush()
    elif render == "markdown":
        from reconciler.planning import markdown  # only for --markdown

        sys.stdout.write(markdown.plan_markdown(plan, cost))
        sys.stdout.flush()
    else:
        from rich.console import Console

        view.print_plan(plan, Console(stderr=False), cost)
    if planned.refused is not None:  # after the plan, so a person sees what would have been rendered
        raise planned.refused
    if out is not None:
        _print_saved(out, config.root, to_stderr=render != "text")
    return 2 if detailed_exitcode and plan.has_changes else 0


def _print_saved(out: Path, root: Path, *, to_stderr: bool) -> None:
    try:
        shown = out.relative_to(root).as_posix()
    except ValueError:
        shown = str(out)
    stream = sys.stderr if to_stderr else sys.stdout
    print(f"\nSaved the plan to {shown}. To carry out exactly this plan, run `reconciler apply {shown}`.",
          file=stream)
