"""Unisound's virtual-human synthesis API (``/api/vms/ai-vms-nrt/start`` and ``/progress``).

Authentication is ``appKey``, ``timestamp`` (ms), ``signature``, by default as query
parameters; the placement and spelling the simulator requires are a setting
(``unisound_auth``, see auth.py), as the document does not say. Then the IP whitelist
(23909, when configured); then the JSON body (``Content-Type: application/json``
required, else 23901). Every answer is HTTP 200
with ``{"error_code", "message", ...}``; ``error_code`` is an integer.

Choices where the document is silent:

- A failed render (text containing ``SIM_FAIL``) shows as ``task_status: "done"``
  **without** ``video_address`` and a ``message`` saying why, ``error_code`` 0: the
  vendor has no failed state, and a non-zero code would look like a transient error.
- start checks: ``text`` non-empty string (23901), at most 5000 characters (23911);
  ``speech_param`` object with ``vcn``; ``speed``/``volume``/``pitch`` 0-100,
  ``bright`` 50-100; ``video_param`` object with ``template`` and ``background`` (必传);
  ``watermask`` and ``background`` 0/1; ``backgroundImage`` string; ``type`` must be 2; ``user_id``
  string; unknown fields refused. All 23901.
- The quota (23907) counts Unisound tasks in this simulator's store.
- Task ids are 32 lower-case hex characters; progress matches them case-insensitively.
"""

from __future__ import annotations

import uuid
from typing import Any

from reconciler.sim.app import Reply, Request, SimApp, fingerprint_of, json_reply
from reconciler.sim.auth import check_unisound, unisound_given
from reconciler.sim.lifecycle import fail_reason_for, unisound_progress

VENDOR = "unisound"
BASE = "/api/vms/ai-vms-nrt"
MAX_TEXT = 5000
_TOP = {"text", "speech_param", "video_param", "type", "user_id"}
_SPEECH_RANGES = {"speed": (0, 100), "volume": (0, 100), "pitch": (0, 100), "bright": (50, 100)}
_VIDEO_FLAGS = ("watermask", "background")


def error(code: int, message: str, *, task_id: str | None = None) -> Reply:
    doc: dict[str, Any] = {"error_code": code, "message": message}
    if task_id is not None:
        doc["task_id"] = task_id
    return json_reply(doc, ok=False, error_code=code, task_id=task_id)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _guard(app: SimApp, req: Request) -> Reply | dict:
    """Authenticate and read the JSON body: an error Reply, or the body (without the
    auth values when they travel in it)."""
    creds = app.credentials
    given, body = unisound_given(app.settings.unisound_auth, query=req.query, headers=req.headers,
                                 body=req.json())
    failure = check_unisound(given=given, appkey=creds.unisound_appkey,
                             secret=creds.unisound_secret, now=app.now())
    if failure:
        return error(*failure)
    whitelist = app.settings.unisound_ip_whitelist
    if whitelist and req.client_ip not in whitelist:
        return error(23909, f"client ip {req.client_ip} is not in the whitelist")
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return error(23901, "parameter error: Content-Type must be application/json")
    if not isinstance(body, dict):
        return error(23901, "parameter error: the body must be a JSON object")
    return body


def _validate_start(body: dict) -> tuple[int, str] | None:
    unknown = sorted(set(body) - _TOP)
    if unknown:
        return 23901, f"parameter error: unknown field(s) {', '.join(unknown)}"
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return 23901, "parameter error: text is required"
    if len(text) > MAX_TEXT:
        return 23911, f"text length not allowed: {len(text)} characters > {MAX_TEXT}"
    if body.get("type") != 2 or not _is_int(body.get("type")):
        return 23901, "parameter error: type must be 2 (synthesis from text)"
    if "user_id" in body and not isinstance(body["user_id"], str):
        return 23901, "parameter error: user_id must be a string"
    speech = body.get("speech_param")
    if not isinstance(speech, dict):
        return 23901, "parameter error: speech_param is required"
    extra = sorted(set(speech) - {"vcn"} - set(_SPEECH_RANGES))
    if extra:
        return 23901, f"parameter error: unknown speech_param field(s) {', '.join(extra)}"
    if not isinstance(speech.get("vcn"), str) or not speech["vcn"].strip():
        return 23901, "parameter error: speech_param.vcn is required"
    for key, (low, high) in _SPEECH_RANGES.items():
        if key in speech and (not _is_int(speech[key]) or not low <= speech[key] <= high):
            return 23901, f"parameter error: speech_param.{key} must be an integer {low}-{high}"
    video = body.get("video_param")
    if not isinstance(video, dict):
        return 23901, "parameter error: video_param is required"
    extra = sorted(set(video) - {"template", "backgroundImage", *_VIDEO_FLAGS})
    if extra:
        return 23901, f"parameter error: unknown video_param field(s) {', '.join(extra)}"
    if not isinstance(video.get("template"), str) or not video["template"].strip():
        return 23901, "parameter error: video_param.template is required"
    if "background" not in video:
        return 23901, "parameter error: video_param.background is required (0 = use the background, 1 = do not)"
    for key in _VIDEO_FLAGS:
        if key in video and (not _is_int(video[key]) or video[key] not in (0, 1)):
            return 23901, f"parameter error: video_param.{key} must be 0 or 1"
    if "backgroundImage" in video and not isinstance(video["backgroundImage"], str):
        return 23901, "parameter error: video_param.backgroundImage must be a string"
    return None


def start(app: SimApp, req: Request) -> Reply:
    body = _guard(app, req)
    if isinstance(body, Reply):
        return body
    problem = _validate_start(body)
    if problem:
        return error(*problem)
    fingerprint = fingerprint_of(body)
    task_id = uuid.uuid4().hex
    created = app.store.add_task_within_quota(
        app.settings.unisound_quota, vendor=VENDOR, task_id=task_id, created_at=app.task_clock(),
        render_seconds=app.settings.render_time(VENDOR, task_id, [body["text"]]), request=body, fingerprint=fingerprint,
        fail_reason=fail_reason_for([body["text"]]),
    )
    if not created:
        reply = error(23907, "package exhausted: no synthesis quota left")
        reply.fingerprint = fingerprint
        return reply
    return json_reply({"task_id": task_id, "error_code": 0, "message": "OK"},
                      error_code=0, task_id=task_id, fingerprint=fingerprint)


def video_url(base_url: str, task_id: str) -> str:
    return f"{base_url}/_sim/oss/unisound/{task_id}.mp4"


def progress(app: SimApp, req: Request) -> Reply:
    body = _guard(app, req)
    if isinstance(body, Reply):
        return body
    raw = body.get("task_id")
    if not isinstance(raw, str) or not raw.strip():
        return error(23901, "parameter error: task_id is required")
    task = app.store.get_task(VENDOR, raw.strip().lower())
    if task is None:
        return error(23910, "task does not exist", task_id=raw)
    p = unisound_progress(task, app.task_clock())
    doc: dict[str, Any] = {"error_code": 0, "message": "OK", "task_id": task.task_id,
                           "task_status": p.state}
    if p.state == "done":
        if task.fail_reason:
            doc["message"] = f"synthesis failed: {task.fail_reason}"
        else:
            doc["video_address"] = video_url(req.base_url, task.task_id)
    return json_reply(doc, error_code=0, task_id=task.task_id, fingerprint=task.fingerprint)
