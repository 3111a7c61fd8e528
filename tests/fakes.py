"""A fake Provider and small builders for the engine's unit tests (no network, no sim).

The fake keeps every call it receives, renders a task in ``render_polls`` status
calls, and can be told to fail a create (``submit_errors``), a status call
(``status_errors``) or a download (``download_errors``), in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from reconciler.apply.engine import Engine
from reconciler.apply.events import NullHooks
from reconciler.apply.schedule import PollSchedule
from reconciler.config import load_config
from reconciler.model import Action, Change, DesiredVideo, Plan
from reconciler.providers.base import Capabilities, DownloadResult, SubmitResult, TaskState, TaskStatus
from reconciler.sim import media
from reconciler.specs.fingerprint import fingerprint
from reconciler.state.sqlite import StateStore

FAST = PollSchedule(first=0.01, factor=1.5, cap=0.05, jitter=0.0)


class FakeProvider:
    def __init__(self, name: str = "xingyun", *, can_cancel: bool | None = None, one_shot: bool | None = None,
                 render_polls: int = 1):
        self.name = name
        can_cancel = name == "xingyun" if can_cancel is None else can_cancel
        one_shot = name == "unisound" if one_shot is None else one_shot
        self.capabilities = Capabilities(can_cancel=can_cancel, one_shot_download=one_shot, max_concurrency=10)
        self.render_polls = render_polls
        self.calls: list[tuple] = []
        self.uploaded: list[tuple[str, bytes]] = []  # (name, bytes) of each deck at its create
        self.tasks: dict[str, dict] = {}
        self.submit_errors: list[Exception] = []
        self.status_errors: list[Exception] = []
        self.download_errors: list[Exception] = []
        self.hold = asyncio.Event()  # cleared: renders never finish until set
        self.hold.set()
        self.concurrent = 0
        self.max_concurrent = 0
        self.wait_for_concurrent = 0  # > 0: a create waits (up to 2 s) until this many are in flight
        self._enough_in_flight = asyncio.Event()
        self._next = 100

    def kinds(self, kind: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind]

    async def submit(self, request):
        self.calls.append(("submit", request.body.get("text") or request.body.get("video_name"), request.ppt_path))
        if request.ppt_path is not None:  # what the real provider uploads: the file's bytes, now
            self.uploaded.append((request.ppt_path.name, request.ppt_path.read_bytes()))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        if self.concurrent >= self.wait_for_concurrent:
            self._enough_in_flight.set()
        try:
            if self.wait_for_concurrent:  # a loaded machine must not hide a bound by slow intents
                try:
                    await asyncio.wait_for(self._enough_in_flight.wait(), 2.0)
                except asyncio.TimeoutError:
                    pass
            await asyncio.sleep(0.005)
            if self.submit_errors:
                raise self.submit_errors.pop(0)
            self._next += 1
            task_id = str(self._next)
            self.tasks[task_id] = {"polls": 0, "cancelled": False, "body": request.body}
            return SubmitResult(task_id)
        finally:
            self.concurrent -= 1

    async def status(self, task_id):
        self.calls.append(("status", task_id))
        if self.status_errors:
            raise self.status_errors.pop(0)
        task = self.tasks[task_id]
        if task["cancelled"]:
            return TaskStatus(task_id, TaskState.CANCELLED, "cancel")
        task["polls"] += 1
        if task["polls"] < self.render_polls or not self.hold.is_set():
            return TaskStatus(task_id, TaskState.RENDERING, "processing")
        if "SIM_FAIL" in str(task["body"]):
            return TaskStatus(task_id, TaskState.FAILED, "error", error="render failed")
        image = f"http://fake/{task_id}.png" if self.name == "xingyun" else None
        return TaskStatus(task_id, TaskState.FINISHED, "finished", video_url=f"http://fake/{task_id}.mp4",
                          preview_image_url=image)

    async def cancel(self, task_id):
        self.calls.append(("cancel", task_id))
        self.tasks[task_id]["cancelled"] = True

    async def preview_url(self, task_id):
        self.calls.append(("preview_url", task_id))
        return f"http://fake/preview/{task_id}" if self.name == "xingyun" else None  # a page, not an image

    async def download(self, url, dest: Path):
        self.calls.append(("download", url))
        if self.download_errors:
            raise self.download_errors.pop(0)
        data = media.base_clip() + media.free_box(f"video bytes of {url}".encode())  # a real MP4
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        from reconciler.media import verify

        return DownloadResult(dest, hashlib.sha256(data).hexdigest(), len(data), verify.probe(dest))

    async def aclose(self):
        pass


def video(address: str, provider: str = "xingyun", text: str = "hello", **kw) -> DesiredVideo:
    request = {"video_name": address, "segment": [{"text": text}]} if provider == "xingyun" else {"text": text}
    return DesiredVideo(address=address, provider=provider, request=request,
                        fingerprint=fingerprint(provider, request, None), spec_file="specs/a.yaml", **kw)


def change(action: Action, desired: DesiredVideo | None = None, recorded=None) -> Change:
    d, r = desired, recorded
    return Change((d or r).address, action, (d or r).provider, "test", "specs/a.yaml", d, r)


def plan(*changes: Change) -> Plan:
    return Plan(tuple(sorted(changes, key=lambda c: c.address)))


class Rig:
    """A project dir, its state store and an engine with fake providers."""

    def __init__(self, root: Path, **provider_kw):
        self.config = load_config(root)
        self.store = StateStore(self.config.state_path)
        self.providers = {"xingyun": FakeProvider("xingyun", **provider_kw),
                          "unisound": FakeProvider("unisound", **provider_kw)}
        self.hooks = NullHooks()
        self.engine = self.new_engine()

    def new_engine(self, parallelism: int = 4) -> Engine:
        return Engine(self.config, self.store, self.providers, self.hooks, parallelism, schedule=FAST)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.address, e.kind.value) for e in self.hooks.events]

    async def apply(self, p: Plan, *, wait: bool = True) -> None:
        if wait:
            await asyncio.gather(self.engine.execute(p), self.engine.wait())
        else:
            await self.engine.execute(p)
        await self.engine.close()


class FakeBucket:
    """An in-memory stand-in for ``outputs.s3client.Bucket`` (same methods, same errors), for
    unit tests of the bucket outputs store; the real server is for e2e (tests/s3server.py).
    ``down = True`` makes every call fail as an unreachable endpoint; ``failures[method]``
    holds errors the next calls of that method raise, in order."""

    def __init__(self, name: str = "videos"):
        self.name = name
        self.endpoint = "http://fake-s3.invalid"
        self.where = f"bucket {name} at {self.endpoint}"
        self.objects: dict[str, tuple[bytes, str | None]] = {}  # key -> (bytes, sha256 metadata)
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[str, list[Exception]] = {}
        self.down = False

    def _call(self, method: str, key: str = "") -> None:
        from reconciler.errors import OutputsError

        self.calls.append((method, key))
        if self.down:
            raise OutputsError(f"{method} {key} in the {self.where} failed: cannot connect to {self.endpoint}")
        if self.failures.get(method):
            raise self.failures[method].pop(0)

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)

    def put_file(self, key: str, path: Path, sha256: str, size: int) -> None:
        self._call("put", key)
        self.objects[key] = (Path(path).read_bytes(), sha256)

    def head(self, key: str):
        self._call("head", key)
        found = self.objects.get(key)
        return None if found is None else (len(found[0]), found[1])

    def copy(self, source: str, key: str) -> None:
        from reconciler.errors import OutputsError

        self._call("copy", key)
        if source not in self.objects:
            raise OutputsError(f"copying {source} in the {self.where} failed: the service answered HTTP 404")
        self.objects[key] = self.objects[source]

    def delete(self, key: str) -> None:
        self._call("delete", key)
        self.objects.pop(key, None)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        self._call("put", key)
        self.objects[key] = (data, None)

    def open_object(self, key: str):
        import io

        self._call("get", key)
        found = self.objects.get(key)
        return None if found is None else io.BytesIO(found[0])

    def children(self, folder: str) -> list[str]:
        self._call("list", folder)
        return sorted(k for k in self.objects if k.startswith(folder + "/") and "/" not in k[len(folder) + 1:])

    def check(self) -> None:
        self._call("check")

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        self._call("put_bytes", key)  # a small object (a poster): not counted with the video uploads
        self.objects[key] = (data, None)

    def open_object(self, key: str):
        import io

        self._call("get", key)
        found = self.objects.get(key)
        return None if found is None else io.BytesIO(found[0])

    def presigned_get(self, key: str, seconds: int = 7 * 86400) -> str:
        return f"{self.endpoint}/{self.name}/{key}?X-Amz-Expires={seconds}&X-Amz-Signature=fake"


class BucketRig(Rig):
    """A Rig whose outputs live in a FakeBucket (``outputs: s3://videos/launch``)."""

    def __init__(self, root: Path, *, extra_config: str = "", **provider_kw):
        (root / "reconciler.yaml").write_text(f"outputs: s3://videos/launch\n{extra_config}")
        self.bucket = FakeBucket()
        super().__init__(root, **provider_kw)

    def new_engine(self, parallelism: int = 4) -> Engine:
        from reconciler.outputs.bucket import BucketOutputs

        return Engine(self.config, self.store, self.providers, self.hooks, parallelism, schedule=FAST,
                      outputs=BucketOutputs(self.config, bucket=self.bucket))
