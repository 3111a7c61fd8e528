"""The command line: argument parsing and the mapping of errors to exit codes.

Thin on purpose (DVC's commands/ vs repo/): each command imports its implementation
from ``reconciler.commands`` lazily, so ``reconciler status`` does not pay for httpx
and ``reconciler plan`` does not pay for rich when it is piped. A ``ReconcilerError``
becomes its message on stderr and exit 1; nothing a user can cause shows a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from reconciler import DISTRIBUTION, __version__
from reconciler.errors import ReconcilerError


class Project:
    """What every command receives: the project root (from ``-C``)."""

    def __init__(self, root: Path):
        self.root = root

    def config(self):
        from reconciler.config import load_config

        return load_config(self.root)


def _run(ctx: click.Context, command: str, **options) -> None:
    module = importlib.import_module(f"reconciler.commands.{command}")
    code = module.run(ctx.obj, **options)
    ctx.exit(code or 0)


def _parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--var")
        out[key.strip()] = value
    return out


var_option = click.option("--var", "vars_", multiple=True, metavar="KEY=VALUE", help="Set a template variable.")
target_option = click.option("--target", "targets", multiple=True, metavar="ADDR", help="Limit to this address.")
replace_option = click.option("--replace", "replace", multiple=True, metavar="ADDR", help="Force a new render.")
no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Render even where the render cache holds the output (docs/cache.md)."
)
mass_delete_option = click.option(
    "--allow-mass-delete", is_flag=True, help="Allow a plan that deletes all (or over max_delete_share) videos."
)
over_budget_option = click.option(
    "--allow-over-budget", is_flag=True, help="Allow a plan over `budget:` in reconciler.yaml."
)


def _request(targets=(), replace=(), vars_=(), allow_mass_delete=False, allow_over_budget=False,
             no_cache=False):
    """The one ``Request`` of a plan, apply or watch (``planning.request``), built here once."""
    from reconciler.planning.request import Request

    return Request(targets=frozenset(targets), replace=frozenset(replace), variables=_parse_vars(vars_),
                   allow_mass_delete=allow_mass_delete, allow_over_budget=allow_over_budget, use_cache=not no_cache)


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    """``--version``: the installed distribution's version (its metadata, not that of the
    unrelated PyPI project "reconciler") and its name, which is what to ``pip install``."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree (python -m reconciler)
        number = __version__
    click.echo(f"reconciler {number} ({DISTRIBUTION})")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path), default=".",
              help="Run as if started in DIR.")
@click.option("--debug", "-v", "--verbose", "debug", is_flag=True,
              help="Show debug logs (every vendor call, retry and download) on stderr; secrets redacted.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and the distribution to install, then exit.")
@click.pass_context
def cli(ctx: click.Context, directory: Path, debug: bool) -> None:
    """Declarative renders of digital-human videos: plan, apply, watch."""
    if debug:
        from reconciler.config import secrets
        from reconciler.util import logs

        logs.enable_debug(secrets().values())
    ctx.obj = Project(directory)


@cli.command()
@var_option
@click.pass_context
def validate(ctx, vars_):
    """Load and check all specs (no network)."""
    _run(ctx, "validate", variables=_parse_vars(vars_))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan (docs/formats.md).")
@click.option("--markdown", "as_markdown", is_flag=True, help="The plan as Markdown for a pull-request comment.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `apply FILE`.")
@target_option
@replace_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@mass_delete_option
@no_cache_option
@over_budget_option
@var_option
@click.pass_context
def plan(ctx, as_json, as_markdown, out, targets, replace, detailed_exitcode, allow_mass_delete, no_cache,
         allow_over_budget, vars_):
    """Show what apply would change."""
    if as_json and as_markdown:
        raise click.UsageError("--json and --markdown are two renderings of one plan: give one.")
    request = _request(targets, replace, vars_, allow_mass_delete, allow_over_budget, no_cache)
    _run(ctx, "plan", request=request, render="json" if as_json else "markdown" if as_markdown else "text",
         out=out, detailed_exitcode=detailed_exitcode)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for `yes`.")
@click.option("--no-wait", is_flag=True, help="Submit and return; `refresh` later.")
@click.option("--parallelism", type=click.IntRange(1, 256), help="Concurrent API calls.")
@target_option
@replace_option
@mass_delete_option
@no_cache_option
@over_budget_option
@var_option
@click.pass_context
def apply(ctx, plan_file, auto_approve, no_wait, parallelism, targets, replace, allow_mass_delete, no_cache,
          allow_over_budget, vars_):
    """Render what the specs say (a fresh plan, or a saved plan FILE)."""
    request = _request(targets, replace, vars_, allow_mass_delete, allow_over_budget, no_cache)
    _run(ctx, "apply", request=request, plan_file=plan_file, auto_approve=auto_approve, no_wait=no_wait,
         parallelism=parallelism)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the manifest document for the current state.")
@click.pass_context
def status(ctx, as_json):
    """Each video's state as recorded (no network)."""
    _run(ctx, "status", as_json=as_json)


@cli.command()
@click.pass_context
def refresh(ctx):
    """Poll unfinished renders once, download finished outputs, detect lost ones."""
    _run(ctx, "refresh")


@cli.command()
@click.option("--interval", type=click.FloatRange(min=0.1), default=180.0, show_default=True,
              help="Seconds between full re-checks.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--standby", is_flag=True,
              help="If another writer holds the state, wait as a standby and take over when it stops or dies.")
@click.option("--git-ref", "git_ref", metavar="REF",
              help="Follow the specs, vars, config and decks committed at REF (e.g. origin/main), "
                   "not the working tree; re-plan when REF moves.")
@mass_delete_option
@var_option
@click.pass_context
def watch(ctx, interval, log_format, standby, git_ref, allow_mass_delete, vars_):
    """Keep renders in line with the specs until stopped (SIGINT/SIGTERM)."""
    _run(ctx, "watch", request=_request(vars_=vars_, allow_mass_delete=allow_mass_delete), interval=interval,
         log_format=log_format, standby=standby, git_ref=git_ref)


@cli.group()
def state():
    """Operations on the whole state."""


@state.command()
@click.option("--to", "to", required=True, metavar="URL",
              help="The target: a postgresql:// URL (into this project's state_schema) or a SQLite file path.")
@click.pass_context
def migrate(ctx, to):
    """Copy the whole state to another backend (refused if the target holds a state)."""
    _run(ctx, "migrate", to=to)


@state.command("import", short_help="Adopt a vendor's task as ADDR's render (no create sent).")
@click.argument("address", metavar="ADDR")
@click.argument("task_id", metavar="TASK_ID")
@var_option
@click.pass_context
def state_import(ctx, address, task_id, vars_):
    """Adopt a render that exists at the vendor as ADDR's render (no create is sent).

    Settles a create whose outcome is `unknown` (after a kill) without paying again:
    find its task in the vendor's console, then import it. A free status call checks
    that the vendor knows TASK_ID (a task it does not know is refused, nothing
    changed). ADDR must be a video of the specs: the task is recorded with the
    fingerprint of ADDR's current spec — you vouch that it renders that spec. A
    finished task is downloaded now; one still rendering by the next apply, refresh
    or watch. A video the state already manages (rendering, or finished with its
    output) is not imported over: `state forget` it first. `unknown`, `failed`,
    `cancelled`, a lost output, or a video not in the state: importable. Takes the
    writer lock like apply.
    """
    _run(ctx, "state_import", address=address, task_id=task_id, variables=_parse_vars(vars_))


@state.command("forget", short_help="Drop ADDR... from state and manifest (no vendor call).")
@click.argument("addresses", metavar="ADDR...", nargs=-1, required=True)
@click.option("--abandon", is_flag=True,
              help="Forget videos with a render in flight too (it keeps running at the vendor; nothing will "
                   "download it).")
@click.pass_context
def state_forget(ctx, addresses, abandon):
    """Drop ADDR... from the state and the manifest (Terraform's `state rm`).

    No vendor is called and no output file or object is deleted; the history stays.
    The next plan proposes each video still in the specs as new, served from the
    render cache (no render) where the cache holds it. All or nothing: an address
    the state does not record is an error, and nothing is forgotten. A video with a
    render in flight (rendering, unknown, or finished and not downloaded) is refused
    unless --abandon. Takes the writer lock like apply.
    """
    _run(ctx, "state_forget", addresses=addresses, abandon=abandon)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--render-seconds", type=click.FloatRange(min=0), default=5.0, show_default=True)
@click.pass_context
def sim(ctx, host, port, render_seconds):
    """Serve both vendor APIs, simulated, on one port."""
    _run(ctx, "sim", host=host, port=port, render_seconds=render_seconds)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="A list of checks: name, status, detail, fix.")
@click.pass_context
def doctor(ctx, as_json):
    """Check config, specs, state, credentials, clock and each vendor (free calls only)."""
    _run(ctx, "doctor", as_json=as_json)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the page (default: site/).")
@click.pass_context
def gallery(ctx, out):
    """Write a static HTML review page of every video (player, poster, script, history)."""
    _run(ctx, "gallery", out=out)


@cli.group()
def cache():
    """The render cache (docs/cache.md)."""


@cache.command("prune")
@click.pass_context
def cache_prune(ctx):
    """Remove cached renders no video uses, unused for longer than cache_keep_days."""
    _run(ctx, "cache", )


@cli.group()
def outputs():
    """Where the published outputs and the render cache live (docs/outputs.md)."""


@outputs.command("migrate")
@click.option("--to", "to", required=True, metavar="LOCATION",
              help="The new outputs location: a folder (relative to the project) or s3://BUCKET/PREFIX.")
@click.pass_context
def outputs_migrate(ctx, to):
    """Copy every published output and cached render to LOCATION, verified by sha256.

    Nothing is rendered or downloaded from a vendor; the source is left as it was. The
    state then records its outputs at LOCATION, and the command says the line of
    reconciler.yaml to change (until it is changed, plan, apply, refresh and watch
    refuse). A target holding another state's outputs is refused; run again after an
    interruption, it skips what is already copied and verified. Takes the writer lock.
    """
    _run(ctx, "outputs_migrate", to=to)


@cli.command()
@click.pass_context
def schema(ctx):
    """Print the JSON Schema of a spec file."""
    _run(ctx, "schema")


def _shown(message: str) -> str:
    """An error's message as it may be printed: the last line of defence behind the
    redaction where each message is made (every URL redacted, every secret of the
    environment masked, every piece of the state URL's password: ``util.urls``)."""
    import os

    from reconciler.config import secrets
    from reconciler.state.store import STATE_URL_VAR
    from reconciler.util import logs, urls

    message = logs.Redact(secrets().values()).mask(urls.redact_all(message))
    state_url = os.environ.get(STATE_URL_VAR)
    return urls.scrub_url(message, state_url) if state_url else message


def main() -> None:
    try:
        # without standalone mode click *returns* the code of ctx.exit(code) (e.g. the
        # 2 of `plan --detailed-exitcode`) instead of raising Exit
        code = cli.main(standalone_mode=False, prog_name="reconciler")
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except ReconcilerError as exc:
        click.echo(f"Error: {_shown(str(exc))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(0)
