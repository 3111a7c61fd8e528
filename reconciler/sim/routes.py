"""Which handler answers a (method, path), and under which ledger name.

Both vendors share one port: Xingyun under ``/user/v1/video_synthesis_task/``, Unisound
under ``/api/vms/ai-vms-nrt/``, the simulated object storage under ``/_sim/oss/`` and
``/_sim/preview/``. Matching is exact (no slash folding), so a client that builds
``//user/...`` gets a 404 here as it might from a real gateway. A call is named
``(vendor, kind)`` in the ledger and in fault keys: kinds are ``create``,
``parse_ppt``, ``status``, ``cancel``, ``preview`` (Xingyun's preview-URL call),
``download`` (videos), ``image`` (Xingyun cover), ``preview_page``; unknown routes
are ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from reconciler.sim import files, unisound, xingyun
from reconciler.sim.app import Reply, Request, SimApp

Handler = Callable[[SimApp, Request], Reply]


@dataclass(frozen=True)
class Route:
    vendor: str
    kind: str
    handler: Handler | None  # None: no such route (unknown)
    allowed: tuple[str, ...] = ()  # when the path exists but not for this method


_EXACT: dict[str, tuple[str, str, str, Handler]] = {
    f"{xingyun.BASE}/create_render_task": ("POST", "xingyun", "create", xingyun.create),
    f"{xingyun.BASE}/parse_ppt_file": ("POST", "xingyun", "parse_ppt", xingyun.parse_ppt),
    f"{xingyun.BASE}/get_render_task": ("GET", "xingyun", "status", xingyun.status),
    f"{xingyun.BASE}/cancel_render_task": ("POST", "xingyun", "cancel", xingyun.cancel),
    f"{xingyun.BASE}/get_render_task_preview_url": ("GET", "xingyun", "preview", xingyun.preview),
    f"{unisound.BASE}/start": ("POST", "unisound", "create", unisound.start),
    f"{unisound.BASE}/progress": ("POST", "unisound", "status", unisound.progress),
}

_FILES: list[tuple[re.Pattern, str, str, Callable]] = [
    (re.compile(r"^/_sim/oss/xingyun/(\d+)\.mp4$"), "xingyun", "download", files.xingyun_video),
    (re.compile(r"^/_sim/oss/xingyun/(\d+)\.png$"), "xingyun", "image", files.xingyun_image),
    (re.compile(r"^/_sim/preview/xingyun/(\d+)$"), "xingyun", "preview_page", files.xingyun_preview_page),
    (re.compile(r"^/_sim/oss/unisound/([0-9a-f]{32})\.mp4$"), "unisound", "download", files.unisound_video),
]


def _vendor_of(path: str) -> str:
    if path.startswith("/user/"):
        return "xingyun"
    if path.startswith("/api/"):
        return "unisound"
    return "sim"


def match(method: str, path: str) -> Route:
    exact = _EXACT.get(path)
    if exact:
        want, vendor, kind, handler = exact
        if method == want:
            return Route(vendor, kind, handler)
        return Route(vendor, "unknown", None, allowed=(want,))
    for pattern, vendor, kind, handler in _FILES:
        m = pattern.match(path)
        if m:
            if method not in ("GET", "HEAD"):
                return Route(vendor, "unknown", None, allowed=("GET", "HEAD"))
            task_id = m.group(1)
            return Route(vendor, kind, lambda app, req, _h=handler, _t=task_id: _h(app, req, _t))
    return Route(_vendor_of(path), "unknown", None)
