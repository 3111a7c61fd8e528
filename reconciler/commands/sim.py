"""``reconciler sim``: serve both simulated vendor APIs in the foreground.

Tasks are kept under the project's state directory (``state/sim.db``, next to
``reconciler.db``), so a project using ``endpoint: sim`` and this command see the same
tasks. The simulated Unisound looks for its auth values where the project's config puts
them (``auth_in``/``auth_names``), as ``endpoint: sim`` does, unless
``RECONCILER_SIM_FAULTS`` says where. Prints one line with the URL and how to point the
tool at it, then serves until Ctrl-C or SIGTERM. Never prints a secret.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _from_project(project) -> tuple[Path, dict]:
    """The project's state directory and the simulator settings its config implies;
    ``<root>/state`` and none when the config cannot be loaded."""
    try:
        config = project.config()
    except Exception:  # a broken reconciler.yaml must not stop the simulator
        return Path(project.root).resolve() / "state", {}
    from reconciler.providers.local_sim import sim_settings
    from reconciler.sim.settings import env_config

    try:
        explicit = env_config()
    except ValueError:
        explicit = {}  # malformed: serve_forever says so
    settings = {k: v for k, v in sim_settings(config).items() if k not in explicit}
    return Path(config.state_dir), settings


def run(project, host: str, port: int, render_seconds: float) -> int:
    from reconciler.sim import serve_forever

    state_dir, settings = _from_project(project)

    def ready(url: str) -> None:
        print(
            f"reconciler sim: Xingyun and Unisound simulated on {url} (tasks in {state_dir}); "
            f"point the tool at it with XINGYUN_ENDPOINT={url} UNISOUND_ENDPOINT={url} "
            f"(credentials: XINGYUN_APP_ID/XINGYUN_APP_SECRET, UNISOUND_APPKEY/UNISOUND_SECRET "
            f"where set, else sim-app / sim-secret); Ctrl-C stops",
            flush=True,
        )

    try:
        serve_forever(state_dir=state_dir, host=host, port=port, render_seconds=render_seconds,
                      on_ready=ready, faults=settings)
    except OSError as exc:
        print(f"Error: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. a malformed RECONCILER_SIM_FAULTS
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0
