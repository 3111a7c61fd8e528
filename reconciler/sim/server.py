"""Starting and stopping a simulator: in a thread (tests, ``endpoint: sim``) or in the
foreground (``reconciler sim``).

``start_in_thread`` binds first (so ``port=0`` picks a free port and ``url`` is known at
once), then serves on a daemon thread. ``SimServer.stop`` is idempotent and bounded.
``serve_forever`` blocks until Ctrl-C or SIGTERM and then stops cleanly.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any, Callable

from reconciler.sim.app import SimApp
from reconciler.sim.httpd import SimHTTPServer
from reconciler.sim.settings import env_config, resolve_credentials
from reconciler.sim.store import read_ledger


class SimServer:
    """A running simulator serving both vendors on one port."""

    def __init__(self, app: SimApp, httpd: SimHTTPServer, thread: threading.Thread):
        self._app = app
        self._httpd = httpd
        self._thread = thread
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.host = httpd.url_host
        self.port: int = httpd.server_port
        self.url: str = f"http://{self.host}:{self.port}"
        self.state_dir: Path = app.state_dir

    def __repr__(self) -> str:
        return f"SimServer({self.url}, state_dir={str(self.state_dir)!r})"

    def __enter__(self) -> "SimServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- control (the same operations as the /_sim/ admin endpoints) --------------------
    def set_faults(self, config: dict) -> None:
        """Replace the fault configuration (see faults.py); raises ValueError if invalid."""
        self._app.configure(config)

    def pending_faults(self) -> dict:
        return self._app.settings.plan.pending()

    def reset(self) -> None:
        self._app.reset()

    def ledger(self) -> list[dict]:
        return self._app.store.ledger()

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections(timeout=3.0)
        self._thread.join(timeout=3.0)
        self._app.store.close()


def start_in_thread(*, state_dir: Path, host: str = "127.0.0.1", port: int = 0,
                    render_seconds: float = 3.0, credentials: dict | None = None,
                    seed: int | None = None, faults: dict | None = None,
                    latency_ms: float | None = None) -> SimServer:
    """Start a simulator on a daemon thread and return once it accepts connections.

    ``credentials``: ``{"xingyun": {"app_id", "secret"}, "unisound": {"appkey", "secret"}}``
    (else environment, else sim-app/sim-secret). ``faults``: a configuration as for
    ``POST /_sim/faults``, merged over ``RECONCILER_SIM_FAULTS``; ``latency_ms`` beats
    both. ``seed`` seeds the fault draws."""
    config = env_config()
    config.update(faults or {})
    if latency_ms is not None:
        config["latency_ms"] = latency_ms
    app = SimApp(state_dir=Path(state_dir), credentials=resolve_credentials(credentials),
                 startup_config=config, default_render_seconds=render_seconds, seed=seed)
    try:
        httpd = SimHTTPServer((host, port), app)
    except BaseException:
        app.store.close()
        raise
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name="reconciler-sim", daemon=True)
    thread.start()
    return SimServer(app, httpd, thread)


def serve_forever(*, state_dir: Path, host: str, port: int, render_seconds: float,
                  on_ready: Callable[[str], None] | None = None, **options: Any) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly. ``on_ready(url)`` is called once
    the port is bound; ``options`` go to ``start_in_thread``."""
    server = start_in_thread(state_dir=state_dir, host=host, port=port,
                             render_seconds=render_seconds, **options)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        if on_ready is not None:
            on_ready(server.url)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["SimServer", "read_ledger", "serve_forever", "start_in_thread"]
