"""One vendor call from request to outcome: latency, faults, the handler, the ledger.

Kept apart from http.py so the rules are in one place and free of sockets:

1. sleep the configured ``latency_ms``;
2. draw a fault for ``(vendor, kind)`` (faults.py);
3. a fault that strikes before processing (``http_NNN``, ``drop``, ``garbage``,
   ``error``, ``internal``) answers or closes without calling the handler;
4. otherwise the handler runs (its effects are real: a create makes its task);
5. the ledger gets one entry for the call, whatever happened;
6. a fault that strikes after processing (``slow``, ``lost``, ``truncate``, ``html``,
   ``damaged``) shapes how http.py delivers the reply (``html`` replaces it with an HTML
   page, 200; ``damaged`` damages a served video's media, its boxes intact).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.sim import media
from reconciler.sim.app import Reply, Request, SimApp, json_reply
from reconciler.sim.faults import Fault
from reconciler.sim.routes import Route

SEND, CLOSE, TRUNCATE = "send", "close", "truncate"
_GARBAGE = b"<html><head><title>502 Bad Gateway</title></head><body>upstream sent an invalid response }{</body></html>\n"


@dataclass
class Outcome:
    reply: Reply | None
    mode: str = SEND  # send | close (no answer at all) | truncate (half the body, then close)
    delay: float = 0.0  # seconds to wait before delivering


def _vendor_error(route: Route, code: int | None) -> Reply:
    if route.kind in ("download", "image", "preview_page", "unknown"):
        return Reply(status=500, body=b"internal error (simulated)\n", content_type="text/plain", ok=False)
    if route.vendor == "unisound":
        code = code or 23903
        return json_reply({"error_code": code, "message": "internal service error (simulated)"},
                          ok=False, error_code=code)
    code = code or 30005
    return json_reply({"error_code": code, "error_reason": "simulated failure", "data": None},
                      ok=False, error_code=code)


def _strike_before(route: Route, fault: Fault) -> Outcome:
    status = fault.http_status
    if status is not None:
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        body = f"<html><body><h1>{status}</h1>simulated</body></html>\n".encode()
        return Outcome(Reply(status=status, body=body, content_type="text/html", headers=headers, ok=False))
    if fault.name == "drop":
        return Outcome(None, mode=CLOSE)
    if fault.name == "garbage":
        return Outcome(Reply(status=200, body=_GARBAGE, content_type="application/json", ok=False))
    return Outcome(_vendor_error(route, fault.code if fault.name == "error" else None))


def not_found(route: Route) -> Reply:
    if route.allowed:
        reply = json_reply({"detail": "method not allowed"}, status=405, ok=False)
        reply.headers["Allow"] = ", ".join(route.allowed)
        return reply
    return json_reply({"detail": "not found"}, status=404, ok=False)


def run(app: SimApp, route: Route, req: Request) -> Outcome:
    settings = app.settings
    app.sleep(settings.latency_ms / 1000.0)
    fault = settings.plan.draw(route.vendor, route.kind) if route.handler else None
    if fault is not None and not fault.processed:
        outcome = _strike_before(route, fault)
    elif route.handler is None:
        outcome = Outcome(not_found(route))
    else:
        try:
            outcome = Outcome(route.handler(app, req))
        except Exception as exc:  # a simulator bug: answer 500 and say so, do not die
            detail = json.dumps({"detail": f"simulator error: {type(exc).__name__}: {exc}"})
            outcome = Outcome(Reply(status=500, body=detail.encode(), ok=False))
        if fault is not None:
            if fault.name == "lost":
                outcome.mode = CLOSE
            elif fault.name == "truncate":
                outcome.mode = TRUNCATE
            elif fault.name == "slow":
                outcome.delay = fault.delay_ms / 1000.0
            elif fault.name == "html":  # e.g. a proxy's error page, after a one-shot URL was used up
                task_id = outcome.reply.task_id if outcome.reply else None
                outcome.reply = Reply(status=200, body=_GARBAGE, content_type="text/html", ok=False, task_id=task_id)
            elif fault.name == "damaged" and outcome.reply and outcome.reply.content_type == "video/mp4":
                outcome.reply.body = media.damage(outcome.reply.body)  # served "fine": 200, every box in place
    reply = outcome.reply
    app.store.record(
        vendor=route.vendor, kind=route.kind,
        task_id=reply.task_id if reply else None,
        ok=bool(reply and reply.ok) and not (fault is not None and not fault.processed),
        fingerprint=reply.fingerprint if reply else None,
        http_status=(reply.status if reply else None) if outcome.mode != CLOSE else None,
        error_code=reply.error_code if reply else None,
        fault=fault.name if fault else None,
    )
    return outcome
