"""Saved plans: ``plan --out FILE`` writes one, ``apply FILE`` carries it out.

A saved plan is a promise: "apply will do exactly this". It can only be kept if
nothing it was made from has moved, so the file records fingerprints of every input:
the digest of the spec inputs (files, vars, --var values), the state generation
(bumped by every write to the state DB) and the digest of reconciler.yaml, and the
``Request`` it was planned for (``planning.request``: targets, replaces, variables, the
flags). Apply plans again from that request through the same recipe and calls ``check_fresh``, which refuses
(``StalePlanError``) naming what changed. Like Terraform, a stale plan is never
"mostly" applied.

The file is JSON with a ``kind`` marker so a foreign or corrupt file gets a clear
message, written atomically. Format 2 stores the request whole; a format 1 file (its
planner options and variables apart) is still read, as the same request. It never holds a secret: credentials live only in the
environment, and ``save_plan`` refuses to write bytes that contain one (for
instance a secret passed by mistake as ``--var``). Nor does it ever overwrite a file
the tool manages or reads (``check_out_path``): ``plan --out state/reconciler.db``
would destroy the record of every paid render.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.config import secrets
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.model import Plan
from reconciler.planning import view
from reconciler.planning.request import Request
from reconciler.util import atomic

KIND = "reconciler-plan"
FORMAT_VERSION = 2  # 2: the request whole; 1: planner options and variables apart (still read)
_MIN_SECRET_LEN = 6  # shorter "secrets" would match ordinary text


@dataclass(frozen=True)
class SavedPlan:
    plan_json: dict
    request: Request
    specs_digest: str
    state_generation: int
    config_digest: str


def save_plan(path: Path, plan: Plan, *, request: Request, specs_digest: str, state_generation: int,
              config_digest: str) -> None:
    """Write the plan and the fingerprints of its inputs to ``path`` atomically."""
    doc = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "plan": view.plan_to_json(plan),
        "request": request.to_json(),
        "specs_digest": specs_digest,
        "state_generation": state_generation,
        "config_digest": config_digest,
    }
    data = (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    _refuse_secrets(data)
    try:
        atomic.atomic_write_bytes(Path(path), data)
    except OSError as exc:  # a read-only folder, a full disk, a folder in the way
        raise ReconcilerError(f"plan --out {path}: cannot write the plan file: {exc.strerror or exc}. "
                              "Nothing was written.") from None


def check_out_path(config, path: Path, *, spec_cache: Path) -> None:
    """Refuse a ``plan --out`` path the tool manages: the state DB and its lock, WAL and
    journal files, the manifest, reconciler.yaml, the vars files, or anything under the
    outputs, specs or ``spec_cache`` folders (symlinks resolved)."""
    from reconciler.config import CONFIG_NAME

    target = os.path.realpath(path)
    state = str(config.state_path)
    files = {state: "the state database", **{state + s: "a file of the state database"
                                             for s in ("-wal", "-shm", "-journal", ".lock")},
             str(config.manifest_path): "the manifest", str(config.root / CONFIG_NAME): "the project config",
             **{str(p): "a vars file" for p in config.vars_files}}
    folders = {str(config.outputs_dir): "the outputs folder", str(config.specs_dir): "the specs folder",
               str(spec_cache): "the spec cache"}
    what = next((name for f, name in files.items() if os.path.realpath(f) == target), None)
    for folder, name in folders.items():
        real = os.path.realpath(folder)
        if what is None and (target == real or target.startswith(real.rstrip(os.sep) + os.sep)):
            what = f"inside {name}"
    if what is not None:
        raise ReconcilerError(f"plan --out {path}: refusing to write the plan there: it is {what}, which "
                              "reconciler manages. Save the plan elsewhere, e.g. `--out plan.json`. "
                              "Nothing was written.")


def _refuse_secrets(data: bytes) -> None:
    for secret_var, secret in secrets().items():
        if len(secret) >= _MIN_SECRET_LEN and (secret.encode() in data or json.dumps(secret)[1:-1].encode() in data):
            raise ReconcilerError(
                f"refusing to save the plan: it would contain the value of {secret_var} (passed with --var?). "
                "Credentials belong in the environment only."
            )


def load_plan(path: Path) -> SavedPlan:
    """Read a file written by ``save_plan``; ReconcilerError for anything else."""
    path = Path(path)
    again = f"make a new one with `reconciler plan --out {path}`"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReconcilerError(f"{path}: no such plan file; {again}") from None
    except OSError as exc:
        raise ReconcilerError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReconcilerError(f"{path}: not a reconciler plan file (not valid JSON); {again}") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ReconcilerError(f"{path}: not a reconciler plan file; {again}")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ReconcilerError(f"{path}: plan format {version!r} is not one this reconciler reads; upgrade, or {again}")
    try:
        return _from_json(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReconcilerError(f"{path}: corrupt plan file ({exc}); {again}") from None


def _from_json(doc: dict) -> SavedPlan:
    plan = doc["plan"]
    if not isinstance(plan, dict) or not isinstance(plan.get("changes"), list):
        raise ValueError("no list of changes")
    request = Request.from_json(doc["request"]) if doc["format_version"] >= 2 else _request_v1(doc)
    generation = doc["state_generation"]
    if not isinstance(generation, int):
        raise ValueError("state_generation is not a number")
    return SavedPlan(plan_json=plan, request=request, specs_digest=str(doc["specs_digest"]),
                     state_generation=generation, config_digest=str(doc["config_digest"]))


def _request_v1(doc: dict) -> Request:
    """The request of a format 1 file: its planner options and variables. Its
    ``max_delete_share`` was the config's, which the config digest already pins."""
    opts = doc["options"]
    return Request.from_json({
        "targets": opts["targets"], "replace": opts["replace"], "variables": doc["variables"],
        "allow_mass_delete": bool(opts["allow_mass_delete"]),
        "use_cache": bool(opts.get("use_cache", True)),  # the cache's index is read again when applied
        "allow_over_budget": bool(opts.get("allow_over_budget", False)),  # absent in files from before budgets
    })


def check_fresh(saved: SavedPlan, *, specs_digest: str, state_generation: int, config_digest: str,
                replanned: Plan) -> None:
    """Refuse a saved plan whose inputs moved; name each thing that changed."""
    changed = []
    if saved.specs_digest != specs_digest:
        changed.append("the specs or variables changed")
    if saved.state_generation != state_generation:
        changed.append(f"the state changed (generation {saved.state_generation} → {state_generation}: "
                       "an apply, refresh or watch ran since)")
    if saved.config_digest != config_digest:
        changed.append("reconciler.yaml changed")
    if not changed:
        now = view.plan_to_json(replanned)
        if _actions(saved.plan_json) != _actions(now):
            changed.append("planning again now gives different changes")
        elif _renders(saved.plan_json) != _renders(now):
            changed.append(_more_renders(saved.plan_json, now))
    if changed:
        raise StalePlanError(
            "the saved plan is stale: " + "; ".join(changed)
            + ". Nothing was changed. Run `reconciler plan` again (with --out to save it), then apply the new plan."
        )


def _renders(plan_json: dict) -> list[tuple]:
    return [(c.get("address"), c.get("renders", 0)) for c in plan_json.get("changes", [])]


def _more_renders(saved: dict, now: dict) -> str:
    """Why a saved plan whose changes are the same now counts other paid renders (a cache
    entry it counted as free is gone or no longer readable here): it is not carried out,
    so an apply never pays more renders than the plan it carries out counted."""
    was = {c.get("address"): c.get("renders", 0) for c in saved.get("changes", [])}
    moved = [c["address"] for c in now.get("changes", []) if c.get("renders", 0) != was.get(c.get("address"), 0)]
    return (f"planning again now counts {sum(c.get('renders', 0) for c in now.get('changes', []))} paid render(s) "
            f"where the saved plan counted {sum(was.values())} (the render cache can no longer serve "
            f"{', '.join(moved)})")


def _actions(plan_json: dict) -> list[tuple]:
    return [(c.get("address"), c.get("action"), c.get("provider")) for c in plan_json.get("changes", [])]
