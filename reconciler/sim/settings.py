"""What a running simulator is configured with: credentials, timings, faults.

Sources, strongest first: the arguments of ``start_in_thread`` (``credentials``,
``faults``, ``latency_ms``), then the environment, then built-in defaults:

- ``XINGYUN_APP_ID``/``XINGYUN_APP_SECRET``, ``UNISOUND_APPKEY``/``UNISOUND_SECRET``:
  the accepted credentials, each ``sim-app`` / ``sim-secret`` where unset.
- ``RECONCILER_SIM_FAULTS``: a fault configuration as JSON (see faults.py), or
  ``@/path/to/file.json``.
- ``RECONCILER_SIM_LATENCY_MS``: latency added to every vendor call.
- ``RECONCILER_SIM_RENDER_SECONDS``: render time; beats the ``render_seconds`` argument
  so a test can speed up a simulator someone else starts.

Secrets live in ``Credentials`` whose repr hides them; nothing here logs.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from reconciler.sim.auth import validate_unisound_auth
from reconciler.sim.faults import FaultPlan, validate_config

DEFAULT_APP = "sim-app"
DEFAULT_SECRET = "sim-secret"
ENV_FAULTS = "RECONCILER_SIM_FAULTS"
ENV_LATENCY = "RECONCILER_SIM_LATENCY_MS"
ENV_RENDER = "RECONCILER_SIM_RENDER_SECONDS"


@dataclass(frozen=True)
class Credentials:
    xingyun_app_id: str
    xingyun_secret: str = field(repr=False)
    unisound_appkey: str
    unisound_secret: str = field(repr=False)


def resolve_credentials(override: Mapping | None = None, env: Mapping[str, str] | None = None) -> Credentials:
    """Credentials from ``override`` (``{"xingyun": {"app_id", "secret"}, "unisound":
    {"appkey", "secret"}}``, ``app_id``/``appkey`` interchangeable), else the environment,
    else ``sim-app`` / ``sim-secret``."""
    env = os.environ if env is None else env
    override = override or {}

    def pick(vendor: str, id_env: str, secret_env: str) -> tuple[str, str]:
        given = override.get(vendor) or {}
        app = given.get("app_id") or given.get("appkey") or env.get(id_env) or DEFAULT_APP
        secret = given.get("secret") or env.get(secret_env) or DEFAULT_SECRET
        return app, secret

    x_app, x_secret = pick("xingyun", "XINGYUN_APP_ID", "XINGYUN_APP_SECRET")
    u_key, u_secret = pick("unisound", "UNISOUND_APPKEY", "UNISOUND_SECRET")
    return Credentials(x_app, x_secret, u_key, u_secret)


def env_config(env: Mapping[str, str] | None = None) -> dict:
    """The fault configuration the environment asks for ({} when none). A malformed
    setting is a ValueError whose message names the variable (or file) and the problem."""
    env = os.environ if env is None else env
    config: dict = {}
    source = ENV_FAULTS
    raw = (env.get(ENV_FAULTS) or "").strip()
    if raw:
        source = ENV_FAULTS
        if raw.startswith("@"):
            source = f"{ENV_FAULTS} file {raw[1:]}"
            try:
                raw = Path(raw[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{source}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            loaded = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{source} must be a JSON object, got {type(loaded).__name__}")
        config.update(loaded)
    for name, key in ((ENV_LATENCY, "latency_ms"), (ENV_RENDER, "render_seconds")):
        value = (env.get(name) or "").strip()
        if value:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {value!r}") from None
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"{name} must be a finite number of at least 0, got {value!r}")
            config[key] = number
    try:
        FaultPlan(validate_config(config))  # the queue and probability tables too, now rather than at start
        return config
    except ValueError as exc:
        raise ValueError(f"{source if raw else 'the simulator settings from the environment'}: {exc}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


@dataclass
class Settings:
    """One immutable-by-convention snapshot; the server swaps it whole on reconfiguration."""

    config: dict
    render_seconds: float
    latency_ms: float
    unisound_quota: int | None
    unisound_ip_whitelist: tuple[str, ...]
    clock_offset_seconds: float
    clock_advance_seconds: float
    unisound_auth: dict  # {"in": place, "names": {appkey, timestamp, signature}}
    plan: FaultPlan
    seed: int | None = None

    def render_time(self, vendor: str, task_id: str, texts: list[str]) -> float:
        """The render time of a new task (faults.py: ``render_scale``, ``render_per_char``,
        ``render_per_segment``, ``render_spread``); ``render_seconds`` when none is set."""
        config = self.config
        base = self.render_seconds * float((config.get("render_scale") or {}).get(vendor, 1.0))
        base += float(config.get("render_per_char") or 0) * sum(len(t) for t in texts)
        base += float(config.get("render_per_segment") or 0) * len(texts)
        spread = float(config.get("render_spread") or 0)
        if spread:
            base *= 1 + spread * (2 * random.Random(f"{self.seed}:{task_id}").random() - 1)
        return base


def build_settings(config: dict, *, default_render_seconds: float, seed: int | None = None) -> Settings:
    """Settings from a fault configuration; absent keys take their defaults."""
    config = validate_config(dict(config))
    render = config.get("render_seconds")
    return Settings(
        config=config,
        render_seconds=float(default_render_seconds if render is None else render),
        latency_ms=float(config.get("latency_ms") or 0),
        unisound_quota=config.get("unisound_quota"),
        unisound_ip_whitelist=tuple(config.get("unisound_ip_whitelist") or ()),
        clock_offset_seconds=float(config.get("clock_offset_seconds") or 0),
        clock_advance_seconds=float(config.get("clock_advance_seconds") or 0),
        unisound_auth=validate_unisound_auth(config.get("unisound_auth")),
        plan=FaultPlan(config, seed=seed),
        seed=config.get("seed", seed),
    )
