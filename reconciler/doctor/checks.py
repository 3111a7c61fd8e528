"""``reconciler doctor``: every guess about a project checked before a render is paid for.

Why: a team's first real apply must not be the test of its setup. The checks run in the
order a person would fix things (config, specs, state, lock, the outputs bucket when
``outputs:`` is ``s3://`` (a HEAD of the bucket, then a test upload and delete: the
outputs store's own ``probes``), the ``notify:`` webhooks' variables, credentials, each vendor
with a free authenticated call, the clock, then what the state says about renders), and
each ends as a ``Check``: ok, warning or error, what was found, and the next step. Only
errors make ``doctor`` exit 1; a running ``watch`` (the lock) or renders that need a
look are warnings.

Nothing here writes to the state, the manifest or the outputs (the bucket's test object
is under ``<prefix>/.doctor/`` and deleted at once), no webhook is called, and no check can start a
render: the vendor checks (``doctor.vendors``) use calls that are free by design. No
check's text holds a secret or a signature: credentials are named by their variables.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping

from reconciler.doctor.result import ERROR, OK, WARNING, Check
from reconciler.errors import ReconcilerError
from reconciler.util import clock, urls

UNISOUND_LINK_DAYS = 3  # "视频下载地址3天有效"
SHOWN = 5  # problems listed per check before "and N more"


def run_checks(root, env: Mapping[str, str] | None = None, now: dt.datetime | None = None) -> list[Check]:
    """Every check of the project at ``root``, in order (stops early only when the config
    cannot be read: an unreadable or unreachable state is one error among the rest)."""
    import os

    from reconciler.config import load_config
    from reconciler.doctor import vendors as doctor_vendors
    from reconciler.state import store as state_store

    env = os.environ if env is None else env
    now = now or clock.utc_now()
    try:
        config = load_config(root)
        state_store.backend(config, env)  # a `state` this version cannot serve
    except ReconcilerError as exc:
        return [Check("config", ERROR, str(exc), "Fix reconciler.yaml at the line named above.")]
    checks = [Check("config", OK, f"{config.rel(config.root / 'reconciler.yaml')} read"
                    if (config.root / "reconciler.yaml").exists() else "no reconciler.yaml: every default applies")]
    spec_check, in_specs = _specs(config)
    checks.append(spec_check)
    state_check, recorded = _state(config)
    checks += [state_check, _lock(config, readable=recorded is not None)]
    if recorded:
        checks.append(_outputs_location(config))
    checks += _outputs_probes(config, env)
    if config.file.notify:
        checks.append(_notify(config, env))
    vendors = sorted(in_specs | {v.provider for v in (recorded or {}).values() if _needs_vendor(v)})
    if not vendors:
        checks.append(Check("vendors", OK, "no spec or recorded render uses a vendor yet"))
    for name in vendors:
        cred = _credentials(config, name, env)
        checks.append(cred)
        if cred.status != ERROR:
            checks += doctor_vendors.check_vendor(config, name, env)
    if recorded is not None:  # an unreadable state has no renders to look at (its check says why)
        checks += _renders(config, recorded, now)
        checks.append(_other_accounts(config, recorded, env))
    return checks


# --------------------------------------------------------------------------- local checks

def _specs(config) -> tuple[Check, set[str]]:
    from reconciler.specs import loader, vendor_lists

    try:
        load = loader.load_specs(config, {})
    except ReconcilerError as exc:
        return Check("specs", ERROR, str(exc), "Run `reconciler validate`, fix what it names, run doctor again."), set()
    errors = load.all_errors()
    if errors:
        return (Check("specs", ERROR, _listed(f"{len(errors)} problem(s) in specs", errors),
                      "Run `reconciler validate` to see every problem; fix them and run doctor again."),
                {v.provider for vs in load.videos_by_file.values() for v in vs})
    desired = load.desired()
    providers = {v.provider for v in desired.values()}
    warnings = vendor_lists.check(config, load)
    files = len(load.videos_by_file)
    if warnings:
        return (Check("specs", WARNING, _listed(f"{len(desired)} videos in {files} file(s) load; "
                                                f"{len(warnings)} value(s) are not in the vendor's lists", warnings),
                      "Check the spelling of each value named; a newer one your account has is fine."), providers)
    return Check("specs", OK, f"{len(desired)} videos in {files} file(s) load (same checks as `validate`)"), providers


def _state(config):
    from reconciler.state import store as state_store

    rel = state_store.describe(config)
    if isinstance(state_store.backend(config), state_store.SqliteBackend) and not config.state_path.exists():
        return Check("state", OK, f"no state yet ({rel} is created by the first apply)"), {}
    try:
        store = state_store.open_store(config, readonly=True)
        try:
            recorded = store.recorded()
        finally:
            store.close()
    except ReconcilerError as exc:
        if isinstance(state_store.backend(config), state_store.SqliteBackend):
            return Check("state", ERROR, str(exc), f"Restore {rel} from a backup, or move it away to start afresh."), None
        return Check("state", ERROR, str(exc), "Check that the database server is up and reachable from here, and "
                     "the user and password (RECONCILER_STATE_URL, or PGPASSWORD or ~/.pgpass for libpq)."), None
    return Check("state", OK, f"{rel} opens: {len(recorded)} video(s) recorded"), recorded


def _outputs_location(config) -> Check:
    """The configured ``outputs:`` is where the state's outputs are (issue 22)."""
    from reconciler.state import outputs_location

    try:
        outputs_location.require(config)
    except ReconcilerError as exc:
        return Check("outputs location", ERROR, str(exc),
                     "Run the command named above, or change `outputs:` in reconciler.yaml as it says.")
    return Check("outputs location", OK, f"outputs: {outputs_location.configured(config)} is where the state's "
                 "outputs are")


def _lock(config, readable: bool = True) -> Check:
    from reconciler.state import store as state_store

    lock = state_store.writer_lock(config)
    try:
        held = lock.held()
    except ReconcilerError as exc:
        if not readable:  # the state check said it already
            return Check("lock", ERROR, "not checked: the state cannot be reached (see the state check)",
                         "Fix the state first; then run doctor again.")
        return Check("lock", ERROR, str(exc), "Check the state database server and the network.")
    if not held:
        return Check("lock", OK, "free: apply, refresh and watch can take it")
    holder = lock.holder()
    who = holder.describe() if holder else "another process"
    return Check("lock", WARNING, f"held by {who}",
                 "apply, refresh and watch fail while it is held: wait for it, or stop it if it should not run.")


def _outputs_probes(config, env: Mapping[str, str]) -> list[Check]:
    """The outputs store's own checks (a bucket: its HEAD, then a test upload and delete)."""
    from reconciler.outputs import open_outputs

    return [Check(p.name, OK if p.ok else ERROR, p.detail, p.fix) for p in open_outputs(config).probes(env)]


def _notify(config, env: Mapping[str, str]) -> Check:
    """Each ``notify:`` entry's variable is set to an http(s) URL. The URL is a secret: only
    the variable is named, and no message is sent (the webhook is never called)."""
    from reconciler.config import setting_line

    problems, fine = [], []
    for i, target in enumerate(config.file.notify):
        url = env.get(target.url_env, "").strip()
        why = "is not set" if not url else (f"is not a webhook URL ({problem})"
                                            if (problem := urls.http_problem(url)) else None)
        if why is None:
            fine.append(f"{target.url_env} ({target.format})")
            continue
        line = setting_line(config.root, ("notify", i, "url_env"))
        problems.append(f"reconciler.yaml:{line}: notify[{i}].url_env {target.url_env} {why}: "
                        f"no {target.format} messages will be sent")
    if problems:
        return Check("notify", WARNING, _listed(f"{len(problems)} of {len(config.file.notify)} webhook(s) unusable",
                                                problems),
                     "Export each variable named, where apply and watch run, as the webhook's full https:// URL "
                     "from the chat tool (never in a file of the project); or remove the entry from reconciler.yaml.")
    return Check("notify", OK, f"{', '.join(fine)} set to http(s) URLs (not called: no message sent)")


def _credentials(config, name: str, env: Mapping[str, str]) -> Check:
    from reconciler.config import check_endpoint
    from reconciler.model import VENDORS

    id_var, secret_var = VENDORS[name].env_app_id, VENDORS[name].env_secret
    endpoint = config.endpoint(name, env)
    if endpoint != "sim":
        try:
            check_endpoint(name, endpoint, env)
        except ReconcilerError as exc:
            var, default = VENDORS[name].env_endpoint, VENDORS[name].default_endpoint
            return Check(f"{name} credentials", ERROR, str(exc),
                         f"{var} is set (it beats reconciler.yaml): set it to the vendor's base URL, e.g. {default}, "
                         "or unset it." if env.get(var) else
                         f"Set `providers.{name}.endpoint` in reconciler.yaml to the vendor's base URL, e.g. "
                         f"{default} (or `sim`).")
    try:
        creds = config.credentials(name, env)
    except ReconcilerError as exc:
        missing = [v for v in (id_var, secret_var) if not env.get(v)]
        return Check(f"{name} credentials", ERROR, str(exc),
                     f"export {' '.join(f'{v}=...' for v in missing)}  (from the {name} console; never in a file of "
                     "the project)")
    if creds.endpoint == "sim":
        return Check(f"{name} credentials", OK, "endpoint: sim (the built-in simulator; no account needed)")
    given = [v for v in (id_var, secret_var) if env.get(v)]
    source = f"{' and '.join(given)} set" if given else "the simulator's defaults (a loopback endpoint)"
    return Check(f"{name} credentials", OK, f"{source}; endpoint {urls.redact(creds.endpoint)}")


def _needs_vendor(video) -> bool:
    """Whether a recorded video still needs its vendor (a render to follow or fetch)."""
    from reconciler.model import Status

    return video.unfinished or (video.status is Status.FINISHED and not video.has_output and not video.output_lost)


def _renders(config, recorded: dict, now: dt.datetime) -> list[Check]:
    from reconciler.model import Status
    from reconciler.outputs import open_outputs
    from reconciler.state import overdue

    where = open_outputs(config)
    unknown, stalled, undownloaded, expiring = [], [], [], []
    epoch = now.timestamp()
    for address, v in sorted(recorded.items()):
        if v.status is Status.UNKNOWN:
            unknown.append(address)
        elif overdue.is_stalled(v, config, epoch):
            stalled.append(f"{address} ({v.provider} task {v.task_id or '?'}, "
                           f"{overdue.age(v.submitted_at, epoch) / 3600:.1f} h)")
        elif v.status is Status.FINISHED and v.output_task_id != v.task_id and not v.output_lost:
            pending = where.unpublished(address)
            undownloaded.append(f"{address} ({pending})" if pending else address)
            if overdue.download_warning(v, epoch):
                expiring.append(f"{address} (finished {overdue.age(v.finished_at, epoch) / 86400:.1f} days ago)")
    lost = [f"{a}: {v.error or 'output lost'}" for a, v in sorted(where.notice_missing(recorded).items())
            if v.output_lost]
    return [
        _finding("unknown creates", unknown, "create(s) sent whose answer never arrived (maybe paid)",
                 "Look in the vendor console: a task found there is adopted, with no second payment, by "
                 "`reconciler state import ADDR TASK_ID`; render again only on purpose: "
                 "`reconciler apply --replace ADDR`."),
        _finding("stalled renders", stalled, "render(s) unfinished for longer than expected",
                 "Ask the vendor about the task; `reconciler refresh` polls it again. It is never re-rendered "
                 "without `--replace`."),
        _finding("downloads", undownloaded, *where.unpublished_finding),
        _finding("unisound links", expiring, "finished over a day ago; its link dies "
                 f"{overdue.LINK_LIFETIME['unisound'] / 86400:g} days after the render",
                 "Run `reconciler refresh` today, or the output is lost and must be rendered again."),
        _finding("outputs", lost, "output(s) missing or lost",
                 "Run `reconciler refresh` (a live link is fetched again), then `reconciler plan` to see what "
                 "must be rendered again."),
    ]


def _other_accounts(config, recorded: dict, env: Mapping[str, str]) -> Check:
    """Renders still needing their vendor that another vendor account created (docs/team.md): this checkout never follows them; their owner must."""
    from reconciler.config import account as config_account
    from reconciler.model import account_text, owner_elsewhere

    mine = config_account.accounts(config, env)
    others = [f"{a} ({account_text(v.provider, owner)})" for a, v in sorted(recorded.items())
              if _needs_vendor(v) and (owner := owner_elsewhere(v, mine))]
    return _finding("accounts", others, "unfinished render(s) owned by another account, never followed here",
                    "Run `reconciler refresh` where that account's credentials (or simulator) are; this "
                    "checkout's commands list them and exit 1 while they need work.")


def _finding(name: str, items: list[str], what: str, fix: str) -> Check:
    if not items:
        return Check(name, OK, "none")
    return Check(name, WARNING, _listed(f"{len(items)} {what}", items), fix)


def _listed(head: str, items) -> str:
    items = [str(i) for i in items]
    more = f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{head}: " + "; ".join(items[:SHOWN]) + more
