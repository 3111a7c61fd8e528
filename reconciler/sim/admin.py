"""The simulator's own endpoints under ``/_sim/`` for tests and benchmarks.

Not part of either vendor's API, not authenticated (loopback tool), never faulted and
never in the ledger:

- ``GET /_sim/health`` -> ``{"ok": true, "state_dir", "render_seconds"}``
- ``GET /_sim/ledger[?since=SEQ]`` -> ``{"ledger": [entry, ...]}`` (see store.read_ledger)
- ``GET /_sim/faults`` -> ``{"config": {...}, "pending": {call: [fault, ...]}}``
- ``POST /_sim/faults`` with a whole configuration (faults.py) -> same shape; 400
  ``{"error": "..."}`` when invalid. It replaces the previous configuration.
- ``POST /_sim/reset`` -> ``{"ok": true}``: forget tasks, uploads, ledger; restore the
  startup configuration.
- ``GET /_sim/tasks`` -> ``{"tasks": [{"vendor", "task_id", "state", "created_at",
  "render_seconds", "fingerprint", "downloads", "failing", "video_seconds"}]}``
  (``video_seconds``: the length of the clip its video link serves, media.py)
"""

from __future__ import annotations

from reconciler.sim import files
from reconciler.sim.app import Reply, Request, SimApp, json_reply
from reconciler.sim.lifecycle import unisound_progress, xingyun_progress

PREFIX = "/_sim/"


def _faults_doc(app: SimApp) -> dict:
    settings = app.settings
    return {"config": settings.config, "pending": settings.plan.pending(),
            "render_seconds": settings.render_seconds}


def handle(app: SimApp, req: Request) -> Reply | None:
    """The admin answer for ``req``, or None when it is not an admin route."""
    route = (req.method, req.path)
    if route == ("GET", "/_sim/health"):
        return json_reply({"ok": True, "state_dir": str(app.state_dir),
                           "render_seconds": app.settings.render_seconds})
    if route == ("GET", "/_sim/ledger"):
        try:
            since = int(req.query.get("since", "0"))
        except ValueError:
            return json_reply({"error": "since must be an integer"}, status=400, ok=False)
        return json_reply({"ledger": app.store.ledger(since)})
    if route == ("GET", "/_sim/faults"):
        return json_reply(_faults_doc(app))
    if route == ("POST", "/_sim/faults"):
        config = req.json() if req.body else {}
        if not isinstance(config, dict):
            return json_reply({"error": "the body must be a JSON object"}, status=400, ok=False)
        try:
            app.configure(config)
        except (ValueError, TypeError) as exc:
            return json_reply({"error": str(exc)}, status=400, ok=False)
        return json_reply(_faults_doc(app))
    if route == ("POST", "/_sim/reset"):
        app.reset()
        return json_reply({"ok": True})
    if route == ("GET", "/_sim/tasks"):
        now = app.task_clock()
        tasks = []
        for t in app.store.all_tasks():
            progress = xingyun_progress if t.vendor == "xingyun" else unisound_progress
            tasks.append({"vendor": t.vendor, "task_id": t.task_id, "state": progress(t, now).state,
                          "created_at": t.created_at, "render_seconds": t.render_seconds,
                          "fingerprint": t.fingerprint, "downloads": t.downloads,
                          "failing": bool(t.fail_reason),
                          "video_seconds": files.video_seconds(app, t)})
        return json_reply({"tasks": tasks})
    return None
