"""Mofa Xingyun's video-synthesis API as the document (and docs/vendors.md) describe it.

Paths under ``/user/v1/video_synthesis_task/``; every answer is HTTP 200 with
``{"error_code", "error_reason", "data"}`` (``data`` is null on errors, and cancel has no
``data``, as in the document's demo). Checks, in order: the app (20001), the timestamp
(20003), the token (20002), then the request. Strictness choices where the document is
loose, so client bugs show up here rather than against the real vendor:

- create: ``look_name``, ``tts_vcn_name``, ``studio_name`` required non-empty strings;
  exactly one of ``segment`` (non-empty list of ``{text, media_url?}``) or
  ``parse_ppt_file_name`` (one this simulator handed out); ``sub_title`` on/off;
  ``if_aigc_mark`` boolean; any other field is refused. All failures are 30005.
- ``task_id`` may be an integer or a string of digits (the query string is text anyway).
- parse_ppt_file: field ``ppt_file`` missing or empty is 30002; not a zip with
  ``ppt/presentation.xml`` is 30003. A create naming a ``parse_ppt_file_name`` this
  simulator never handed out is 30002 too (PPT文件不存在).
- a segment may carry ``media_id`` (an integer), as the document's task example shows.
- get_render_task: the task object of an odd task id carries ``id`` only, like the
  document's example; an even one carries ``id`` and ``task_id`` (clients read either).
- cancel: unknown task 30004; an already finished, failed or cancelled one 30006.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from reconciler.sim import multipart, pptx
from reconciler.sim.app import Reply, Request, SimApp, fingerprint_of, json_reply
from reconciler.sim.auth import check_xingyun
from reconciler.sim.lifecycle import XINGYUN_UNFINISHED, fail_reason_for, xingyun_progress
from reconciler.sim.store import PptFile, Task

VENDOR = "xingyun"
BASE = "/user/v1/video_synthesis_task"
CHINA = timezone(timedelta(hours=8))
_REQUIRED = ("look_name", "tts_vcn_name", "studio_name")
_ALLOWED = set(_REQUIRED) | {"video_name", "sub_title", "segment", "if_aigc_mark", "parse_ppt_file_name"}


def error(code: int, reason: str, *, task_id: str | None = None) -> Reply:
    return json_reply({"error_code": code, "error_reason": reason, "data": None},
                      ok=False, error_code=code, task_id=task_id)


def success(data: Any, *, task_id: str | None = None, fingerprint: str | None = None) -> Reply:
    return json_reply({"error_code": 0, "error_reason": "", "data": data},
                      error_code=0, task_id=task_id, fingerprint=fingerprint)


def iso(ts: float | None) -> str | None:
    """Vendor datetimes: ISO 8601 in China time, as in the document's example."""
    return None if ts is None else datetime.fromtimestamp(ts, CHINA).isoformat()


def _authenticate(app: SimApp, req: Request, data: dict) -> Reply | None:
    creds = app.credentials
    failure = check_xingyun(headers=req.headers, target=req.target, method=req.method, data=data,
                            app_id=creds.xingyun_app_id, secret=creds.xingyun_secret, now=app.now())
    return error(*failure) if failure else None


def _task_id(value: Any) -> str | None:
    """A task id as stored (decimal text), from an int or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    return None


def _validate_create(body: dict) -> str | None:
    """Why a create body is refused (30005), or None."""
    unknown = sorted(set(body) - _ALLOWED)
    if unknown:
        return f"unknown parameter(s): {', '.join(unknown)}"
    for key in _REQUIRED:
        if not isinstance(body.get(key), str) or not body[key].strip():
            return f"{key} is required and must be a non-empty string"
    if "video_name" in body and not isinstance(body["video_name"], str):
        return "video_name must be a string"
    if "sub_title" in body and body["sub_title"] not in ("on", "off"):
        return "sub_title must be 'on' or 'off'"
    if "if_aigc_mark" in body and not isinstance(body["if_aigc_mark"], bool):
        return "if_aigc_mark must be a boolean"
    has_segment = body.get("segment") is not None
    has_ppt = body.get("parse_ppt_file_name") is not None
    if has_segment == has_ppt:
        return "exactly one of segment or parse_ppt_file_name is required"
    if has_segment:
        segment = body["segment"]
        if not isinstance(segment, list) or not segment:
            return "segment must be a non-empty list"
        for i, item in enumerate(segment):
            if not isinstance(item, dict):
                return f"segment[{i}] must be an object"
            extra = sorted(set(item) - {"text", "media_url", "media_id"})
            if extra:
                return f"segment[{i}]: unknown field(s) {', '.join(extra)}"
            if not isinstance(item.get("text"), str) or not item["text"].strip():
                return f"segment[{i}].text is required and must be a non-empty string"
            if "media_url" in item and not isinstance(item["media_url"], str):
                return f"segment[{i}].media_url must be a string"
            if "media_id" in item and (not isinstance(item["media_id"], int) or isinstance(item["media_id"], bool)):
                return f"segment[{i}].media_id must be an integer"
    elif not isinstance(body["parse_ppt_file_name"], str):
        return "parse_ppt_file_name must be a string"
    return None


def create(app: SimApp, req: Request) -> Reply:
    body = req.json()
    denied = _authenticate(app, req, body if isinstance(body, dict) else {})
    if denied:
        return denied
    if not isinstance(body, dict):
        return error(30005, "create failed: the body must be a JSON object")
    problem = _validate_create(body)
    if problem:
        return error(30005, f"create failed: {problem}")
    identity = dict(body)
    if body.get("parse_ppt_file_name") is not None:
        ppt = app.store.get_ppt(body["parse_ppt_file_name"])
        if ppt is None:
            return error(30002, "PPT文件不存在: unknown parse_ppt_file_name (call parse_ppt_file first)")
        identity["parse_ppt_file_name"] = f"sha256:{ppt.sha256}"  # same deck, same fingerprint
        fail_reason = fail_reason_for(["SIM_FAIL"]) if ppt.fail_reason else None
    else:
        fail_reason = fail_reason_for([s["text"] for s in body["segment"]])
    fingerprint = fingerprint_of(identity)
    now = app.task_clock()
    task_id = app.store.next_xingyun_id(now)
    app.store.add_task(vendor=VENDOR, task_id=task_id, created_at=now,
                       render_seconds=app.settings.render_time(VENDOR, task_id, [s["text"] for s in body.get("segment") or []]),
                       request=body,
                       fingerprint=fingerprint, fail_reason=fail_reason)
    return success({"task_id": int(task_id)}, task_id=task_id, fingerprint=fingerprint)


def parse_ppt(app: SimApp, req: Request) -> Reply:
    denied = _authenticate(app, req, {})
    if denied:
        return denied
    parts = [p for p in multipart.parse(req.body, req.headers.get("Content-Type") or "")
             if p.name == "ppt_file"]
    if not parts or not parts[0].data:
        return error(30002, "PPT file does not exist: send it as the multipart field ppt_file")
    data = parts[0].data
    digest = hashlib.sha256(data).hexdigest()
    try:
        facts = pptx.inspect(data)
    except pptx.PptError as exc:
        return json_reply({"error_code": 30003, "error_reason": f"PPT parse error: {exc}", "data": None},
                          ok=False, error_code=30003, fingerprint=digest)
    name = f"sim_ppt_{uuid.uuid4().hex}.pptx"
    app.store.add_ppt(PptFile(name=name, sha256=digest, size=len(data), slides=facts.slides,
                              fail_reason="SIM_FAIL" if facts.fails else None), app.task_clock())
    return success({"parse_ppt_file_name": name}, fingerprint=digest)


def _find(app: SimApp, raw: Any) -> tuple[Task | None, str | None]:
    task_id = _task_id(raw)
    return (app.store.get_task(VENDOR, task_id) if task_id else None), task_id


def output_urls(base_url: str, task_id: str) -> tuple[str, str]:
    return (f"{base_url}/_sim/oss/xingyun/{task_id}.mp4", f"{base_url}/_sim/oss/xingyun/{task_id}.png")


def task_document(task: Task, base_url: str, now: float) -> dict:
    """The task object of get_render_task, shaped like the document's example."""
    p = xingyun_progress(task, now)
    r, c = task.render_seconds, task.created_at
    body = task.request
    tid = int(task.task_id)
    video_url, image_url = output_urls(base_url, task.task_id)
    finished = p.state == "finished"
    if p.ended_at is not None:
        updated = p.ended_at
    elif p.started_at is not None:
        updated = p.started_at
    elif p.state == "waiting":
        updated = c + 0.1 * r
    else:
        updated = c
    segment = [
        {"text": s["text"], "media_id": tid * 100 + i, "media_url": s.get("media_url")}
        for i, s in enumerate(body.get("segment") or [])
    ]
    error_reason = ""
    if p.state == "error":
        error_reason = task.fail_reason or "合成任务失败"
    elif p.state == "cancel":
        error_reason = "任务已取消 (cancelled)"
    default_name = datetime.fromtimestamp(c, CHINA).strftime("%Y%m%d_%H_%M_%S.") + f"{int(c * 1000) % 1000:03d}"
    ids = {"id": tid} if tid % 2 else {"id": tid, "task_id": tid}
    return {
        **ids,
        "error_reason": error_reason,
        "create_time": iso(c),
        "update_time": iso(updated),
        "enable": True,
        "name": hashlib.md5(f"xingyun-task-{tid}".encode()).hexdigest(),
        "video_name": body.get("video_name") or default_name,
        "output_resolution": "540P",
        "look_name": body.get("look_name"),
        "tts_vcn_name": body.get("tts_vcn_name"),
        "studio_name": body.get("studio_name"),
        "sub_title": body.get("sub_title", "on"),
        "if_aigc_mark": body.get("if_aigc_mark", True),
        "parse_ppt_file_name": body.get("parse_ppt_file_name"),
        "synth_start_time": iso(p.started_at),
        "synth_finish_time": iso(p.finished_at),
        "synth_state": p.state,
        "segment": segment,
        "render_image_oss": image_url if finished else None,
        "render_video_oss": video_url if finished else None,
    }


def status(app: SimApp, req: Request) -> Reply:
    return _task_get(app, req, lambda task: task_document(task, req.base_url, app.task_clock()))


def preview(app: SimApp, req: Request) -> Reply:
    return _task_get(app, req, lambda task: {"preview_url": f"{req.base_url}/_sim/preview/xingyun/{task.task_id}"})


def _task_get(app: SimApp, req: Request, answer) -> Reply:
    """A signed GET about one task (``?task_id=``): 30004 when there is none."""
    denied = _authenticate(app, req, {})
    if denied:
        return denied
    task, task_id = _find(app, req.query.get("task_id"))
    if task is None:
        return error(30004, "video task not found", task_id=task_id)
    return success(answer(task), task_id=task.task_id, fingerprint=task.fingerprint)


def cancel(app: SimApp, req: Request) -> Reply:
    body = req.json()
    denied = _authenticate(app, req, body if isinstance(body, dict) else {})
    if denied:
        return denied
    if not isinstance(body, dict) or _task_id(body.get("task_id")) is None:
        return error(30006, "cancel failed: the body must be {\"task_id\": <int>}")
    task, task_id = _find(app, body["task_id"])
    if task is None:
        return error(30004, "video task not found", task_id=task_id)
    now = app.task_clock()
    state = xingyun_progress(task, now).state
    if state not in XINGYUN_UNFINISHED or not app.store.set_cancelled(VENDOR, task.task_id, now):
        return json_reply({"error_code": 30006, "error_reason": f"cancel failed: task is {state}"},
                          ok=False, error_code=30006, task_id=task.task_id, fingerprint=task.fingerprint)
    return json_reply({"error_code": 0, "error_reason": ""}, error_code=0,
                      task_id=task.task_id, fingerprint=task.fingerprint)
