"""The simulated object storage behind the output URLs (``/_sim/oss/...``).

Xingyun's ``render_video_oss`` / ``render_image_oss`` serve any number of times.
Unisound's ``video_address`` serves its file **once**, as the vendor warns: the first
GET (or HEAD: a probe uses it up too) wins, every later one gets 410 Gone; and it lives
3 days from the end of the render (the document's 3天有效): later it answers 403, as an
object store answers an expired signed link (``clock_advance_seconds`` ages it in tests). A file only
exists once its task finished successfully (404 before). Downloads are counted in the
store, so tests can see probes. Content-Length is always sent (http.py).
"""

from __future__ import annotations

from urllib.parse import quote

from reconciler.sim import media
from reconciler.sim.app import Reply, Request, SimApp
from reconciler.sim.lifecycle import unisound_progress, xingyun_progress
from reconciler.sim.xingyun import output_urls

UNISOUND_LINK_SECONDS = 3 * 24 * 3600  # "视频下载地址3天有效"


def video_seconds(app: SimApp, task) -> float:
    """How long the task's video lasts: it follows the text the render speaks (media.py)."""
    slides = None
    name = task.request.get("parse_ppt_file_name")
    if name is not None:
        ppt = app.store.get_ppt(name)
        slides = ppt.slides if ppt else None
    return media.request_seconds(task.request, slides)


def _plain(status: int, text: str, *, task_id: str | None = None) -> Reply:
    return Reply(status=status, body=(text + "\n").encode(), content_type="text/plain; charset=utf-8",
                 ok=False, task_id=task_id)


def xingyun_video(app: SimApp, req: Request, task_id: str) -> Reply:
    task = app.store.get_task("xingyun", task_id)
    if task is None or xingyun_progress(task, app.task_clock()).state != "finished":
        return _plain(404, "no such object", task_id=task_id)
    app.store.count_download("xingyun", task_id, once=False)
    name = task.request.get("video_name") or f"xingyun-{task_id}"
    return Reply(body=media.task_video("xingyun", task_id, task.fingerprint, video_seconds(app, task)), content_type="video/mp4",
                 headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.mp4"},
                 task_id=task_id, fingerprint=task.fingerprint)


def xingyun_image(app: SimApp, req: Request, task_id: str) -> Reply:
    task = app.store.get_task("xingyun", task_id)
    if task is None or xingyun_progress(task, app.task_clock()).state != "finished":
        return _plain(404, "no such object", task_id=task_id)
    return Reply(body=media.task_cover("xingyun", task_id), content_type="image/png",
                 task_id=task_id, fingerprint=task.fingerprint)


def xingyun_preview_page(app: SimApp, req: Request, task_id: str) -> Reply:
    task = app.store.get_task("xingyun", task_id)
    if task is None:
        return _plain(404, "no such task", task_id=task_id)
    state = xingyun_progress(task, app.task_clock()).state
    video, image = output_urls(req.base_url, task_id) if state == "finished" else (None, None)
    title = task.request.get("video_name") or f"xingyun task {task_id}"
    return Reply(body=media.preview_page(title, state, video, image), content_type="text/html; charset=utf-8",
                 task_id=task_id, fingerprint=task.fingerprint)


def unisound_video(app: SimApp, req: Request, task_id: str) -> Reply:
    task = app.store.get_task("unisound", task_id)
    if task is None:
        return _plain(404, "no such object", task_id=task_id)
    p = unisound_progress(task, app.task_clock())
    if p.state != "done" or task.fail_reason:
        return _plain(404, "no such object", task_id=task_id)
    if app.task_clock() - p.ended_at > UNISOUND_LINK_SECONDS:
        return _plain(403, "Request has expired: this video address was valid for 3 days", task_id=task_id)
    if not app.store.count_download("unisound", task_id, once=True):
        return _plain(410, "this video address has already been downloaded (one download only)",
                      task_id=task_id)
    return Reply(body=media.task_video("unisound", task_id, task.fingerprint, video_seconds(app, task)), content_type="video/mp4",
                 task_id=task_id, fingerprint=task.fingerprint)
