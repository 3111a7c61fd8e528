"""Helpers for the simulator's own tests: tiny hand-written clients and checks.

The clients sign requests with their own few lines (not reconciler.providers, which is
written separately), exactly as docs/vendors.md describes, so these tests check the wire
format from the outside over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable

import httpx

from tests.helpers import wait_until

APP, SECRET = "sim-app", "sim-secret"
XY = "/user/v1/video_synthesis_task"
UNI = "/api/vms/ai-vms-nrt"
SEGMENT_BODY = {
    "look_name": "AM054_Jap_9021_new",
    "tts_vcn_name": "XMOV_HN_TTS__236",
    "studio_name": "youling_2d_v",
    "video_name": "发布会 开场",
    "sub_title": "on",
    "if_aigc_mark": False,
    "segment": [
        {"text": "为推动我国制造业数字化转型, 促进 智能制造", "media_url": "https://media.example.com/a.png"},
        {"text": "同期将举行多场论坛。"},
    ],
}
PPT_BODY = {k: v for k, v in SEGMENT_BODY.items() if k != "segment"}
UNI_BODY = {
    "text": "云知声专注于物联网人工智能服务,这是第<value>110</value>会议室。",
    "speech_param": {"vcn": "xuanxuan-plus", "speed": 55, "volume": 50, "pitch": 50, "bright": 50},
    "video_param": {"template": "yadi_01", "watermask": 0, "background": 1,
                    "backgroundImage": "color_lightgreen.png"},
    "type": 2,
    "user_id": "tests",
}


def xingyun_headers(method: str, target: str, data: dict, *, app: str = APP, secret: str = SECRET,
                    ts: int | None = None) -> dict[str, str]:
    t = str(int(time.time()) if ts is None else ts)
    sign = f"{target.lower()}{method.lower()}{json.dumps(dict(data), sort_keys=True).replace(' ', '')}{secret}{t}"
    return {"X-APP-ID": app, "X-TIMESTAMP": t, "X-TOKEN": hashlib.md5(sign.encode("utf-8")).hexdigest()}


def unisound_params(*, appkey: str = APP, secret: str = SECRET, ts_ms: int | None = None) -> dict[str, str]:
    t = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    sig = hashlib.sha256(f"{appkey}{t}{secret}".encode()).hexdigest().upper()
    return {"appKey": appkey, "timestamp": t, "signature": sig}  # the document's spelling


class XingyunClient:
    def __init__(self, http: httpx.Client, app: str = APP, secret: str = SECRET):
        self.http, self.app, self.secret = http, app, secret

    def post(self, name: str, body: Any, **headers: str) -> httpx.Response:
        target = f"{XY}/{name}"
        sig = xingyun_headers("POST", target, body if isinstance(body, dict) else {},
                              app=self.app, secret=self.secret)
        return self.http.post(target, content=json.dumps(body, ensure_ascii=False).encode(),
                              headers={"Content-Type": "application/json", **sig, **headers})

    def get(self, name: str, task_id: Any, **headers: str) -> httpx.Response:
        target = f"{XY}/{name}?task_id={task_id}"
        return self.http.get(target, headers={**xingyun_headers("GET", target, {}, app=self.app,
                                                                secret=self.secret), **headers})

    def create(self, body: dict | None = None, **changes: Any) -> dict:
        return self.post("create_render_task", {**(body or SEGMENT_BODY), **changes}).json()

    def create_id(self, body: dict | None = None, **changes: Any) -> int:
        doc = self.create(body, **changes)
        assert doc["error_code"] == 0, doc
        return doc["data"]["task_id"]

    def status(self, task_id: Any) -> dict:
        return self.get("get_render_task", task_id).json()

    def preview(self, task_id: Any) -> dict:
        return self.get("get_render_task_preview_url", task_id).json()

    def cancel(self, task_id: Any) -> dict:
        return self.post("cancel_render_task", {"task_id": task_id}).json()

    def upload(self, data: bytes | None, field: str = "ppt_file") -> dict:
        target = f"{XY}/parse_ppt_file"
        files = {field: ("deck.pptx", data, "application/octet-stream")} if data is not None else None
        extra = None if files else {"dummy": "x"}
        return self.http.post(target, files=files, data=extra,
                              headers=xingyun_headers("POST", target, {})).json()

    def wait(self, task_id: Any, terminal=("finished", "error", "cancel"), timeout: float = 10) -> list[str]:
        """Poll until a terminal state; the distinct states seen, in order."""
        seen: list[str] = []

        def done() -> bool:
            doc = self.status(task_id)
            assert doc["error_code"] == 0, doc
            state = doc["data"]["synth_state"]
            if not seen or seen[-1] != state:
                seen.append(state)
            return state in terminal

        wait_until(done, timeout, lambda: f"task {task_id} to finish (seen: {seen})", step=0.01)
        return seen


class UnisoundClient:
    def __init__(self, http: httpx.Client, appkey: str = APP, secret: str = SECRET):
        self.http, self.appkey, self.secret = http, appkey, secret

    def post(self, name: str, body: Any, params: dict | None = None, **headers: str) -> httpx.Response:
        return self.http.post(f"{UNI}/{name}", params=params or unisound_params(appkey=self.appkey, secret=self.secret),
                              content=json.dumps(body, ensure_ascii=False).encode(),
                              headers={"Content-Type": "application/json", **headers})

    def start(self, body: dict | None = None, **changes: Any) -> dict:
        return self.post("start", {**(body or UNI_BODY), **changes}).json()

    def start_id(self, **changes: Any) -> str:
        doc = self.start(**changes)
        assert doc["error_code"] == 0, doc
        return doc["task_id"]

    def progress(self, task_id: str) -> dict:
        return self.post("progress", {"task_id": task_id}).json()

    def wait(self, task_id: str, timeout: float = 10) -> tuple[list[str], dict]:
        seen: list[str] = []

        def done() -> dict | None:
            doc = self.progress(task_id)
            assert doc["error_code"] == 0, doc
            if not seen or seen[-1] != doc["task_status"]:
                seen.append(doc["task_status"])
            return doc if doc["task_status"] == "done" else None

        doc = wait_until(done, timeout, lambda: f"task {task_id} to finish (seen: {seen})", step=0.01)
        return seen, doc


def poll(fn: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 10, interval: float = 0.01) -> Any:
    last: list[Any] = []

    def met() -> bool:
        last[:] = [fn()]
        return until(last[0])

    wait_until(met, timeout, lambda: f"the condition; last value: {last[0]!r}", step=interval)
    return last[0]


