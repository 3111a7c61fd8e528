"""``reconciler sim``: serve both simulated vendor APIs in the foreground.

Tasks are kept under the project's state directory (``state/sim.db``, next to
``reconciler.db``), so a project using ``endpoint: sim`` and this command see the same
tasks. Prints one line with the URL and how to point the tool at it, then serves until
Ctrl-C or SIGTERM. Never prints a secret.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _state_dir(project) -> Path:
    """The project's state directory; ``<root>/state`` when the config cannot be loaded."""
    try:
        return Path(project.config().state_dir)
    except Exception:  # a broken reconciler.yaml must not stop the simulator
        return Path(project.root).resolve() / "state"


def run(project, host: str, port: int, render_seconds: float) -> int:
    from reconciler.sim import serve_forever

    state_dir = _state_dir(project)

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
                      on_ready=ready)
    except OSError as exc:
        print(f"Error: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. a malformed RECONCILER_SIM_FAULTS
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0
