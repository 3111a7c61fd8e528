"""``endpoint: sim``: the built-in simulator, started once per process and shared.

Why a module of its own: both vendors' providers may ask for the simulator, from any
thread, many times per process; they must all get the same running server (one port,
one task store). Choice: one simulator per state directory (normally exactly one per
process); a second project opened in the same process, as tests do, gets its own, so
its tasks land under its own ``state/``. The servers are stopped at interpreter exit.

The simulator accepts the credentials the providers will sign with: those that
``Config.credentials`` resolves from the same environment (``sim-app``/``sim-secret``
where unset), and the Unisound auth placement of ``reconciler.yaml``, so
``make_provider(..., env=...)`` and the simulator always agree.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from reconciler.errors import ConfigError
from reconciler.model import VENDORS

if TYPE_CHECKING:  # pragma: no cover - config imports providers.base: no cycle at runtime
    from reconciler.config import Config


_lock = threading.Lock()
_servers: dict[Path, object] = {}


def sim_url(config: Config, env: Mapping[str, str] | None = None) -> str:
    """The base URL of this process's simulator for ``config``, starting it on first use."""
    key = Path(config.state_dir).resolve()
    with _lock:
        server = _servers.get(key)
        if server is None:
            server = _start(config, env)
            if not _servers:
                atexit.register(stop_all)
            _servers[key] = server
        return server.url


def _start(config: Config, env: Mapping[str, str] | None):
    from reconciler import sim  # imported lazily: only `endpoint: sim` needs it

    credentials = {}
    for vendor in VENDORS:
        if config.endpoint(vendor, env) == "sim":
            creds = config.credentials(vendor, env)
            credentials[vendor] = {"app_id": creds.app_id, "secret": creds.secret}
    try:
        return sim.start_in_thread(
            state_dir=config.state_dir,
            render_seconds=3.0,  # RECONCILER_SIM_RENDER_SECONDS, where set, beats it (sim/settings.py)
            credentials=credentials,
            faults=sim_settings(config),
        )
    except ValueError as exc:  # a malformed RECONCILER_SIM_* setting (sim/settings.py names it)
        raise ConfigError(f"endpoint: sim: {exc}") from None


def sim_settings(config: Config) -> dict:
    """What a simulator serving this project must know of its config: where the Unisound
    client puts its auth values (``auth_in``, ``auth_names``)."""
    auth = config.provider_settings("unisound").auth
    return {"unisound_auth": {"in": auth.place, "names": auth.names()}}


def stop_all() -> None:
    """Stop every simulator this process started (atexit, and tests)."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - shutting down; nothing useful to report
            pass
