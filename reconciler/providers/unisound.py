"""Unisound (云知声) virtual-human video synthesis behind the Provider seam.

Why a module of its own: everything Unisound-shaped lives here: the two POST paths,
the SHA-256 signature and where it travels (query, JSON body or headers, a setting:
``model.UnisoundAuth``), its three state words and
the absence of a failed state (a failure is a non-zero ``error_code`` on progress, or
``done`` without a ``video_address``), the missing cancel API, and the one-shot
download of ``video_address``.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from reconciler.errors import OutcomeUnknownError, PermanentError
from reconciler.model import UnisoundAuth

from . import codes, probe, signing
from . import download as download_mod
from .base import Capabilities, Credentials, DownloadResult, RenderRequest, SubmitResult, TaskState, TaskStatus
from .errors_map import Call, code_of, message_of
from .http import VendorHTTP

NAME = "unisound"
DEFAULT_CONCURRENCY = 5  # docs/vendors.md names no limit; stay modest
BASE = "/api/vms/ai-vms-nrt"
PROBE_TASK_ID = "0" * 32  # made up: shaped like a task id, never handed out
PROBE_PASSED = frozenset({23910})  # "task not found": the signature was accepted

STATES = {"waiting": TaskState.PENDING, "running": TaskState.RENDERING, "done": TaskState.FINISHED}


def map_state(word: str) -> TaskState:
    """Unisound ``task_status`` -> TaskState. Choice: an undocumented word counts as still
    rendering (keep polling, raw word kept)."""
    return STATES.get(word, TaskState.RENDERING)


def progress_failure_code(code: int | str) -> bool:
    """Whether a non-zero ``error_code`` on progress means *this render failed*.

    Choice: every code except the transient one (23903, retried), the auth ones
    (fix the setup) and not-found (23910): those raise, the rest become FAILED."""
    return codes.kind_of(NAME, code) == codes.PERMANENT


def parse_progress(task_id: str, body: dict) -> TaskStatus:
    """A ``progress`` answer -> TaskStatus."""
    raw = str(body.get("task_status") or "")
    tid = str(body.get("task_id") or body.get("id") or task_id)
    code = code_of(body)
    if code not in (0, None):
        what = codes.lookup(NAME, code)[1]
        said = message_of(body)
        return TaskStatus(task_id=tid, state=TaskState.FAILED, raw_state=raw or f"error_code={code}",
                          error=f"{said or what} [error {code}]")
    state = map_state(raw)
    video = body.get("video_address")
    video = str(video) if video not in (None, "") else None
    error = None
    if state is TaskState.FINISHED and not video:
        said = message_of(body)
        state = TaskState.FAILED
        error = said if said and said.upper() != "OK" else "the render ended (done) without a video address"
    return TaskStatus(task_id=tid, state=state, raw_state=raw, error=error, video_url=video)


class UnisoundProvider:
    """The Unisound virtual-human video API (Provider protocol)."""

    name = NAME

    def __init__(self, credentials: Credentials, *, timeout: float = 30.0, concurrency: int | None = None,
                 client: httpx.AsyncClient | None = None, auth: UnisoundAuth | None = None,
                 **http_options):
        limit = concurrency or DEFAULT_CONCURRENCY
        self.capabilities = Capabilities.of(NAME, limit)
        self._creds = credentials
        self.auth = auth or UnisoundAuth()
        self.http = VendorHTTP(NAME, timeout=timeout, concurrency=limit, client=client, **http_options)

    def __repr__(self) -> str:
        return f"UnisoundProvider(endpoint={self._creds.endpoint!r}, appkey={self._creds.app_id!r})"

    def _post(self, op: str, data: dict, auth: UnisoundAuth | None = None) -> httpx.Request:
        """A signed POST: a fresh timestamp (ms) per attempt, the auth values where
        ``auth`` (default: the configured one) puts them."""
        auth = auth or self.auth
        values = signing.unisound_auth_values(self._creds.app_id, self._creds.secret,
                                              int(self.http.clock() * 1000), auth)
        headers = {"Content-Type": "application/json"}
        params = None
        if auth.place == "query":
            params = values
        elif auth.place == "header":
            headers.update(values)
        else:  # body
            data = {**values, **data}
        return self.http.build("POST", f"{self._creds.endpoint}{BASE}/{op}", params=params,
                               content=signing.unisound_body(data), headers=headers)

    async def submit(self, request: RenderRequest) -> SubmitResult:
        """``start``. Never re-sent once it may have reached the vendor."""
        op = "start"
        data = request.body  # ``type: 2`` included: specs.schema.request_body adds it (model.VENDORS)
        body = await self.http.call_json(lambda: self._post(op, data), Call(NAME, op, create=True))
        task_id = body.get("task_id") or body.get("id")
        if task_id in (None, ""):
            raise OutcomeUnknownError(
                f"{NAME}: {op}: the vendor accepted the create but its answer had no task_id; a paid render "
                "may exist that cannot be tracked. Check the Unisound console; it was NOT re-sent.",
                provider=NAME)
        return SubmitResult(task_id=str(task_id))

    async def status(self, task_id: str) -> TaskStatus:
        op = "progress"
        data = {"task_id": str(task_id)}
        body = await self.http.call_json(lambda: self._post(op, data), Call(NAME, op), tolerate=progress_failure_code)
        return parse_progress(str(task_id), body)

    async def probe(self, auth: UnisoundAuth | None = None) -> probe.Probe:
        """``progress`` for a made-up task id: free, never renders; 23910 means the
        credentials and signature passed. ``auth`` tries another placement/spelling."""
        data = {"task_id": PROBE_TASK_ID}
        return await probe.run(self.http, lambda: self._post("progress", data, auth),
                               Call(NAME, "progress"), PROBE_PASSED)

    async def cancel(self, task_id: str) -> None:
        raise PermanentError(f"{NAME}: there is no cancel API; render {task_id} is abandoned, not cancelled",
                             provider=NAME)

    async def preview_url(self, task_id: str) -> str | None:
        return None  # Unisound has no preview endpoint

    async def download(self, url: str, dest: Path) -> DownloadResult:
        return await download_mod.download(self.http, url, dest, one_shot=self.capabilities.one_shot_download)

    async def aclose(self) -> None:
        await self.http.aclose()
