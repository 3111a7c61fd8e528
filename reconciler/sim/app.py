"""The simulator's shared context and the request/reply values its handlers exchange.

Handlers (xingyun.py, unisound.py, files.py, admin.py) are functions
``(SimApp, Request) -> Reply`` that know nothing about sockets; http.py turns bytes into
a ``Request`` and a ``Reply`` into bytes, dispatch.py applies latency and faults and
writes the ledger. ``SimApp`` owns the store and the current settings; reconfiguring
swaps the settings object whole, so a request sees one consistent configuration.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from reconciler.sim.settings import Credentials, Settings, build_settings
from reconciler.sim.store import Store


@dataclass
class Request:
    method: str
    target: str  # the raw request target as sent: path plus "?query"
    path: str
    query: dict[str, str]  # first value of each parameter
    headers: Mapping[str, str]  # case-insensitive (an email.message.Message)
    body: bytes
    client_ip: str
    base_url: str  # "http://" + the Host header: output URLs are built from it

    def json(self) -> Any:
        """The parsed JSON body, or None when it is not valid JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # what the ledger records about this call
    ok: bool = True
    task_id: str | None = None
    fingerprint: str | None = None
    error_code: int | None = None


def json_reply(document: Any, *, ok: bool = True, error_code: int | None = None,
               task_id: str | None = None, fingerprint: str | None = None, status: int = 200) -> Reply:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return Reply(status=status, body=body, content_type="application/json; charset=utf-8",
                 ok=ok, error_code=error_code, task_id=task_id, fingerprint=fingerprint)


def fingerprint_of(document: Any) -> str:
    """sha256 of a canonical JSON form: equal requests give equal fingerprints."""
    canon = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


class SimApp:
    def __init__(self, *, state_dir: Path, credentials: Credentials, startup_config: dict,
                 default_render_seconds: float, seed: int | None):
        self.state_dir = Path(state_dir)
        self.credentials = credentials
        self.default_render_seconds = default_render_seconds
        self.seed = seed
        self.startup_config = dict(startup_config)
        self.settings: Settings = build_settings(
            self.startup_config, default_render_seconds=default_render_seconds, seed=seed)
        self.store = Store(self.state_dir)
        self.stopping = threading.Event()  # set on shutdown: ends injected sleeps early
        self._lock = threading.Lock()

    def now(self) -> float:
        """The server's clock: real time plus the configured skew (Date header, auth)."""
        return time.time() + self.settings.clock_offset_seconds

    def task_clock(self) -> float:
        """The clock tasks and links age by: real time plus ``clock_advance_seconds``, so
        a test can make three days pass without skewing the clock signatures see."""
        return time.time() + self.settings.clock_advance_seconds

    def configure(self, config: dict) -> Settings:
        """Replace the whole fault configuration (absent keys take their defaults)."""
        settings = build_settings(config, default_render_seconds=self.default_render_seconds,
                                  seed=self.seed)
        with self._lock:
            self.settings = settings
        return settings

    def reset(self) -> None:
        """Forget every task, upload and ledger entry; restore the startup configuration."""
        self.store.reset()
        self.configure(self.startup_config)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)
