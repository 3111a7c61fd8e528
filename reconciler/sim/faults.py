"""Fault injection: which call gets which misbehaviour, reproducibly.

A ``FaultPlan`` is built from a JSON-able configuration (the admin endpoint
``POST /_sim/faults``, the ``faults=`` argument, or ``RECONCILER_SIM_FAULTS``)::

    {"seed": 7,
     "latency_ms": 50,
     "render_seconds": 0.5,
     "queue": {"xingyun.create": ["lost"], "status": ["http_503", "ok", {"fault": "slow", "delay_ms": 1500}]},
     "probability": {"status": {"http_503": 0.1, "slow": {"p": 0.05, "delay_ms": 300}}},
     "unisound_quota": 10,
     "unisound_ip_whitelist": ["10.1.2.3"],
     "clock_offset_seconds": 0,
     "clock_advance_seconds": 0,
     "unisound_auth": {"in": "query", "names": {"appkey": "appKey", "timestamp": "timestamp",
                                                "signature": "signature"}},
     "render_spread": 0.3, "render_per_char": 0.01, "render_per_segment": 0.2,
     "render_scale": {"unisound": 0.8}}

``clock_offset_seconds`` skews the server's clock (its ``Date`` header and the timestamp
checks); ``clock_advance_seconds`` ages every task and link (a Unisound link expires 3
days after its render finished). ``unisound_auth`` is where the simulator looks for the
Unisound auth values (auth.py).

A task's render time is fixed at its creation (settings.py, ``render_time``):
``render_seconds`` times ``render_scale[vendor]`` (default 1), plus ``render_per_char``
for each character of its script and ``render_per_segment`` for each segment (a Xingyun
segment; a Unisound text counts one), then spread by a uniform factor within
+/-``render_spread`` (drawn from the seed and the task id). All default to 0 (1 for the
scale): every render takes ``render_seconds``, as before.

A call is named ``<vendor>.<kind>``; a queue or probability key may be that, or just
``<kind>``, ``<vendor>.*`` or ``*`` (first non-empty match wins, in that order). Queued
faults are consumed one per call, in order; when no queue applies, the probability table
is drawn from a ``random.Random(seed)``, so the same calls in the same order get the same
faults. Fault names and what they do (see http.py):

========== ========================================================== ==========
name       effect                                                     processed
========== ========================================================== ==========
ok         nothing (a placeholder in a queue)                         yes
http_NNN   answer HTTP NNN (500, 503, 429 carry Retry-After: 1)       no
drop       close the connection without an answer                     no
garbage    HTTP 200 with a non-JSON body                              no
error      the vendor's envelope with ``code`` (default: internal)    no
internal   error with Unisound 23903 / Xingyun 30005                  no
slow       answer after ``delay_ms`` (default 1000)                   yes
lost       close the connection without an answer                     yes
truncate   send the headers and half of the body, then close          yes
html       HTTP 200 carrying a proxy's HTML error page instead        yes
damaged    a video download serves its MP4 with damaged media: every  yes
           box in place, frames that do not decode (media.damage)
========== ========================================================== ==========

"processed" means the call took effect (a create made its task, a one-shot download
was used up) before the misbehaviour; the ledger records both ``ok`` and ``fault``.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from reconciler.sim.auth import validate_unisound_auth

_HTTP = re.compile(r"^http_([1-5]\d\d)$")
_NAMES = {"ok", "drop", "garbage", "error", "internal", "slow", "lost", "truncate", "html", "damaged"}
_PROCESSED = {"ok", "slow", "lost", "truncate", "html", "damaged"}
CONFIG_KEYS = {
    "seed", "latency_ms", "render_seconds", "queue", "probability",
    "unisound_quota", "unisound_ip_whitelist", "clock_offset_seconds", "clock_advance_seconds",
    "unisound_auth", "render_spread", "render_per_char", "render_per_segment", "render_scale",
}


@dataclass(frozen=True)
class Fault:
    name: str
    delay_ms: int = 0
    code: int | None = None

    @property
    def processed(self) -> bool:
        """Whether the call takes effect before the fault strikes."""
        return self.name in _PROCESSED

    @property
    def http_status(self) -> int | None:
        m = _HTTP.match(self.name)
        return int(m.group(1)) if m else None

    def as_json(self) -> Any:
        if self.name == "slow":
            return {"fault": "slow", "delay_ms": self.delay_ms}
        if self.name == "error":
            return {"fault": "error", "code": self.code}
        return self.name


def parse_fault(item: Any, where: str) -> Fault:
    """A fault from ``"name"`` or ``{"fault": name, "delay_ms": N, "code": N}``."""
    if isinstance(item, str):
        item = {"fault": item}
    if not isinstance(item, dict) or not isinstance(item.get("fault"), str):
        raise ValueError(f"{where}: a fault is a name or an object with a 'fault' name, got {item!r}")
    extra = set(item) - {"fault", "delay_ms", "code", "p"}
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)}")
    name = item["fault"]
    if name not in _NAMES and not _HTTP.match(name):
        raise ValueError(f"{where}: unknown fault {name!r} (known: {sorted(_NAMES)} and http_NNN)")
    delay = item.get("delay_ms", 1000 if name == "slow" else 0)
    code = item.get("code")
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise ValueError(f"{where}: delay_ms must be a non-negative integer")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise ValueError(f"{where}: code must be an integer")
    return Fault(name=name, delay_ms=delay, code=code)


def validate_config(config: dict) -> dict:
    """Check a configuration's keys and simple values; returns it unchanged."""
    if not isinstance(config, dict):
        raise ValueError("the fault configuration must be a JSON object")
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise ValueError(f"unknown configuration keys {sorted(unknown)} (known: {sorted(CONFIG_KEYS)})")
    for key in ("latency_ms", "render_seconds", "clock_offset_seconds", "clock_advance_seconds"):
        value = config.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise ValueError(f"{key} must be a number")
    for key in ("latency_ms", "render_seconds", "render_per_char", "render_per_segment", "render_spread"):
        value = config.get(key)
        if key not in ("latency_ms", "render_seconds") and value is not None and (
                not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise ValueError(f"{key} must be a number")
        if value is not None and value < 0:
            raise ValueError(f"{key} must not be negative")
    if config.get("render_spread") is not None and config["render_spread"] >= 1:
        raise ValueError("render_spread must be below 1 (a share of the render time)")
    scale = config.get("render_scale")
    if scale is not None and (not isinstance(scale, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for k, v in scale.items())):
        raise ValueError("render_scale must map vendor names to positive numbers")
    quota = config.get("unisound_quota")
    if quota is not None and (not isinstance(quota, int) or isinstance(quota, bool) or quota < 0):
        raise ValueError("unisound_quota must be a non-negative integer or null")
    whitelist = config.get("unisound_ip_whitelist")
    if whitelist is not None and (
        not isinstance(whitelist, list) or not all(isinstance(ip, str) for ip in whitelist)
    ):
        raise ValueError("unisound_ip_whitelist must be a list of IP strings")
    validate_unisound_auth(config.get("unisound_auth"))
    seed = config.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError("seed must be an integer")
    return config


class FaultPlan:
    """The queue and probability tables of one configuration, safe across threads."""

    def __init__(self, config: dict | None = None, seed: int | None = None):
        config = validate_config(dict(config or {}))
        self._lock = threading.Lock()
        self._queue: dict[str, list[Fault]] = {}
        self._probability: dict[str, list[tuple[Fault, float]]] = {}
        queue = config.get("queue") or {}
        if not isinstance(queue, dict):
            raise ValueError("queue must be an object of call name -> list of faults")
        for key, items in queue.items():
            if not isinstance(items, list):
                raise ValueError(f"queue.{key}: expected a list of faults")
            self._queue[key] = [parse_fault(item, f"queue.{key}[{i}]") for i, item in enumerate(items)]
        probability = config.get("probability") or {}
        if not isinstance(probability, dict):
            raise ValueError("probability must be an object of call name -> {fault: p}")
        for key, table in probability.items():
            if not isinstance(table, dict):
                raise ValueError(f"probability.{key}: expected an object of fault -> probability")
            entries = []
            for name in sorted(table):
                value = table[name]
                spec = dict(value) if isinstance(value, dict) else {"p": value}
                p = spec.pop("p", None)
                if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
                    raise ValueError(f"probability.{key}.{name}: p must be a number in [0, 1]")
                entries.append((parse_fault({"fault": name, **spec}, f"probability.{key}.{name}"), float(p)))
            if sum(p for _, p in entries) > 1 + 1e-9:
                raise ValueError(f"probability.{key}: probabilities add up to more than 1")
            self._probability[key] = entries
        # a seed in the configuration itself is the more specific one
        self._rng = random.Random(config["seed"] if config.get("seed") is not None else seed)

    @staticmethod
    def _keys(vendor: str, kind: str) -> tuple[str, ...]:
        return (f"{vendor}.{kind}", kind, f"{vendor}.*", "*")

    def draw(self, vendor: str, kind: str) -> Fault | None:
        """The fault for the next ``vendor.kind`` call, or None (behave)."""
        with self._lock:
            for key in self._keys(vendor, kind):
                pending = self._queue.get(key)
                if pending:
                    fault = pending.pop(0)
                    return None if fault.name == "ok" else fault
            for key in self._keys(vendor, kind):
                table = self._probability.get(key)
                if table:
                    roll, acc = self._rng.random(), 0.0
                    for fault, p in table:
                        acc += p
                        if roll < acc:
                            return None if fault.name == "ok" else fault
                    return None
        return None

    def pending(self) -> dict[str, list]:
        """What is left in the queues (for ``GET /_sim/faults``)."""
        with self._lock:
            return {k: [f.as_json() for f in v] for k, v in self._queue.items() if v}
