"""Mofa Xingyun (魔珐星云) behind the Provider seam.

Why a module of its own: everything Xingyun-shaped lives here and nowhere else: its
paths, its md5-signed headers (rules in ``signing``), its int task ids (strings at the
seam), its state words, and the two-step PPT render (``parse_ppt_file`` upload, then
``create_render_task`` with ``parse_ppt_file_name``). Reads retry transient failures;
the paid create is retried only where ``errors_map`` proves it safe.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from reconciler.errors import OutcomeUnknownError, PermanentError, TransientError

from . import download as download_mod
from . import probe, signing
from .base import Capabilities, Credentials, DownloadResult, RenderRequest, SubmitResult, TaskState, TaskStatus
from .errors_map import Call
from .http import VendorHTTP

NAME = "xingyun"
DEFAULT_CONCURRENCY = 10  # docs/vendors.md: about 10 concurrent creates per account
BASE = "/user/v1/video_synthesis_task"
PROBE_TASK_ID = 2**31 - 1  # an int every backend accepts, far beyond any real task id
PROBE_PASSED = frozenset({30004})  # "task not found": the signature was accepted
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

STATES = {
    "not_send": TaskState.PENDING,
    "waiting": TaskState.PENDING,
    "processing": TaskState.RENDERING,
    "finished": TaskState.FINISHED,
    "error": TaskState.FAILED,
    "cancel": TaskState.CANCELLED,
}


def map_state(word: str) -> TaskState:
    """Xingyun ``synth_state`` -> TaskState. Choice: an undocumented word counts as still
    rendering (keep polling, raw word kept) rather than guessing a terminal state."""
    return STATES.get(word, TaskState.RENDERING)


def parse_task(task_id: str, data: dict) -> TaskStatus:
    """The ``data`` of ``get_render_task`` -> TaskStatus (tolerant: ``id``/``task_id``,
    ``error_reason``/``error_msg``)."""
    raw = str(data.get("synth_state") or "")
    state = map_state(raw)
    video = _str_or_none(data.get("render_video_oss"))
    error = _str_or_none(data.get("error_reason") or data.get("error_msg"))
    if state is TaskState.FINISHED and not video:
        state, error = TaskState.FAILED, error or "the vendor reported the task finished but gave no video URL"
    if state is TaskState.FAILED and not error:
        error = "the render failed (the vendor gave no reason)"
    return TaskStatus(
        task_id=_first(data, "id", "task_id") or task_id,
        state=state,
        raw_state=raw,
        error=error if state is TaskState.FAILED else None,
        video_url=video,
        preview_image_url=_str_or_none(data.get("render_image_oss")),
        finished_at=_utc_iso(_str_or_none(data.get("synth_finish_time"))),
    )


def _utc_iso(value: str | None) -> str | None:
    """The vendor's datetime (ISO 8601 in +08:00 in its example) as UTC ISO 8601, like
    every other time reconciler records; a value that does not parse is kept as sent."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is None:  # choice: a naive vendor time is Beijing time (UTC+8)
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return when.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _str_or_none(value) -> str | None:
    return str(value) if value not in (None, "") else None


def _first(data, *keys: str) -> str | None:
    """The first non-empty ``data[key]`` as a string (tolerant of ``id``/``task_id``,
    int ids, and a ``data`` that is missing or not an object)."""
    if not isinstance(data, dict):
        return None
    for key in keys:
        value = _str_or_none(data.get(key))
        if value is not None:
            return value
    return None


def _int_id(task_id: str) -> int:
    try:
        return int(task_id)
    except (TypeError, ValueError):
        raise PermanentError(f"{NAME}: {task_id!r} is not a Xingyun task id (they are integers)",
                             provider=NAME) from None


class XingyunProvider:
    """The Xingyun digital-human video API (Provider protocol)."""

    name = NAME

    def __init__(self, credentials: Credentials, *, timeout: float = 30.0, concurrency: int | None = None,
                 client: httpx.AsyncClient | None = None, **http_options):
        limit = concurrency or DEFAULT_CONCURRENCY
        self.capabilities = Capabilities.of(NAME, limit)
        self._creds = credentials
        self.http = VendorHTTP(NAME, timeout=timeout, concurrency=limit, client=client, **http_options)

    def __repr__(self) -> str:
        return f"XingyunProvider(endpoint={self._creds.endpoint!r}, app_id={self._creds.app_id!r})"

    # ------------------------------------------------------------------ requests
    def _signed(self, method: str, path: str, sign_data: dict, **kwargs) -> httpx.Request:
        headers = signing.xingyun_headers(self._creds.app_id, self._creds.secret, path, method, sign_data,
                                          int(self.http.clock()))
        headers.update(kwargs.pop("headers", {}))
        return self.http.build(method, self._creds.endpoint + path, headers=headers, **kwargs)

    def _post_json(self, op: str, data: dict) -> httpx.Request:
        return self._signed("POST", f"{BASE}/{op}", data, content=signing.xingyun_body(data),
                            headers={"Content-Type": "application/json"})

    def _get(self, op: str, query: dict) -> httpx.Request:
        path = signing.xingyun_get_path(f"{BASE}/{op}", query)
        return self._signed("GET", path, signing.xingyun_get_sign_data(query))

    # ------------------------------------------------------------------ verbs
    async def parse_ppt(self, ppt_path: Path) -> str:
        """Upload a deck (free, so retried like a read); return its ``parse_ppt_file_name``."""
        op = "parse_ppt_file"
        try:
            blob = Path(ppt_path).read_bytes()
        except OSError as exc:
            raise PermanentError(f"{NAME}: cannot read the PPT file {ppt_path}: {exc.strerror or exc}",
                                 provider=NAME) from exc
        files = {"ppt_file": (Path(ppt_path).name, blob, PPTX_TYPE)}
        body = await self.http.call_json(
            lambda: self._signed("POST", f"{BASE}/{op}", signing.xingyun_multipart_sign_data(), files=files),
            Call(NAME, op))
        name = _first(body.get("data"), "parse_ppt_file_name")
        if name is None:
            raise PermanentError(f"{NAME}: {op}: the answer had no parse_ppt_file_name; "
                                 "check the deck and try again", provider=NAME)
        return str(name)

    async def submit(self, request: RenderRequest) -> SubmitResult:
        """create_render_task (after parse_ppt_file for a PPT video). Never re-sent once
        it may have reached the vendor: a lost answer raises OutcomeUnknownError."""
        op = "create_render_task"
        data = dict(request.body)
        if request.ppt_path is not None:
            data.pop("ppt_file", None)  # a local path, never sent; the upload replaces it
            data["parse_ppt_file_name"] = await self.parse_ppt(request.ppt_path)
        body = await self.http.call_json(lambda: self._post_json(op, data), Call(NAME, op, create=True))
        task_id = _first(body.get("data"), "task_id", "id")
        if task_id is None:
            raise OutcomeUnknownError(
                f"{NAME}: {op}: the vendor accepted the create but its answer had no task id; a paid render "
                "may exist that cannot be tracked. Check the Xingyun console; it was NOT re-sent.",
                provider=NAME)
        return SubmitResult(task_id=task_id)

    async def status(self, task_id: str) -> TaskStatus:
        op = "get_render_task"
        query = {"task_id": _int_id(task_id)}
        body = await self.http.call_json(lambda: self._get(op, query), Call(NAME, op))
        data = body.get("data")
        if not isinstance(data, dict):
            raise TransientError(f"{NAME}: {op}: the answer had no task data; try again later.", provider=NAME)
        return parse_task(task_id, data)

    async def probe(self) -> probe.Probe:
        """``get_render_task`` for a task id that cannot exist: free, never renders;
        30004 means the credentials and signature passed.

        Choice: ``2**31 - 1``, not 0: a backend that reads 0 as "task_id missing"
        would answer a parameter error and hide whether authentication passed."""
        op = "get_render_task"
        return await probe.run(self.http, lambda: self._get(op, {"task_id": PROBE_TASK_ID}),
                               Call(NAME, op), PROBE_PASSED)

    async def cancel(self, task_id: str) -> None:
        op = "cancel_render_task"
        data = {"task_id": _int_id(task_id)}
        await self.http.call_json(lambda: self._post_json(op, data), Call(NAME, op))

    async def preview_url(self, task_id: str) -> str | None:
        op = "get_render_task_preview_url"
        query = {"task_id": _int_id(task_id)}
        body = await self.http.call_json(lambda: self._get(op, query), Call(NAME, op))
        return _first(body.get("data"), "preview_url")

    async def download(self, url: str, dest: Path) -> DownloadResult:
        return await download_mod.download(self.http, url, dest, one_shot=self.capabilities.one_shot_download)

    async def aclose(self) -> None:
        await self.http.aclose()
