"""Signatures, timestamps, credentials, whitelist and the Date header."""

from __future__ import annotations

import email.utils
import hashlib
import json
import time

import httpx

from reconciler.sim import start_in_thread
from reconciler.sim.auth import unisound_signature, xingyun_sort_json, xingyun_token
from tests.sim.helpers import (
    SEGMENT_BODY,
    UNI_BODY,
    XY,
    UnisoundClient,
    XingyunClient,
    unisound_params,
    xingyun_headers,
)


def test_xingyun_token_vectors_from_the_recipe():
    # Hand-computed from the docs/vendors.md recipe (not the document's ddc6457f... example).
    data = {"b": [1, {"z": True, "a": None}], "a": "两 个 字", "c": False}
    assert xingyun_sort_json(data) == '{"a":"\\u4e24\\u4e2a\\u5b57","b":[1,{"a":null,"z":true}],"c":false}'
    expected = hashlib.md5(
        ('/user/v1/x?task_id=1post{"a":"\\u4e24\\u4e2a\\u5b57","b":[1,{"a":null,"z":true}],"c":false}'
         "iamsecret1489133053").encode()).hexdigest()
    assert xingyun_token(target="/User/V1/X?Task_Id=1", method="POST", data=data, secret="iamsecret",
                         timestamp="1489133053") == expected


def test_unisound_signature_is_upper_sha256():
    sig = unisound_signature(appkey="k", timestamp="1700000000000", secret="s")
    assert sig == hashlib.sha256(b"k1700000000000s").hexdigest().upper()


def test_xingyun_accepts_chinese_spaces_booleans_nested(xy):
    doc = xy.create(segment=[{"text": "含 空格 的 文本 with spaces", "media_url": "https://a.example/x y.png"}],
                    if_aigc_mark=True, sub_title="off")
    assert doc["error_code"] == 0, doc


def test_xingyun_auth_errors(http):
    target = f"{XY}/create_render_task"
    body = json.dumps(SEGMENT_BODY)

    def send(headers):
        return http.post(target, content=body, headers={"Content-Type": "application/json", **headers}).json()

    good = xingyun_headers("POST", target, SEGMENT_BODY)
    assert send({**good, "X-APP-ID": "someone-else"})["error_code"] == 20001
    assert send({k: v for k, v in good.items() if k != "X-APP-ID"})["error_code"] == 20001
    assert send({**good, "X-TOKEN": "0" * 32})["error_code"] == 20002
    assert send(xingyun_headers("POST", target, SEGMENT_BODY, secret="wrong"))["error_code"] == 20002
    stale = xingyun_headers("POST", target, SEGMENT_BODY, ts=int(time.time()) - 70)  # outside 60 s even on a loaded machine
    assert send(stale)["error_code"] == 20003
    future = xingyun_headers("POST", target, SEGMENT_BODY, ts=int(time.time()) + 70)
    assert send(future)["error_code"] == 20003
    assert send({**good, "X-TIMESTAMP": "soon"})["error_code"] == 20003
    assert send(xingyun_headers("POST", target, SEGMENT_BODY, ts=int(time.time()) - 50))["error_code"] == 0


def test_xingyun_get_signs_the_query(xy, http):
    task_id = xy.create_id()
    target = f"{XY}/get_render_task?task_id={task_id}"
    without_query = xingyun_headers("GET", f"{XY}/get_render_task", {})
    assert http.get(target, headers=without_query).json()["error_code"] == 20002
    with_data = xingyun_headers("GET", target, {"task_id": task_id})
    assert http.get(target, headers=with_data).json()["error_code"] == 20002
    assert http.get(target, headers=xingyun_headers("GET", target, {})).json()["error_code"] == 0


def test_xingyun_ppt_upload_is_signed_with_empty_data(http):
    target = f"{XY}/parse_ppt_file"
    bad = xingyun_headers("POST", target, {"ppt_file": "deck.pptx"})
    r = http.post(target, files={"ppt_file": ("d.pptx", b"x")}, headers=bad)
    assert r.json()["error_code"] == 20002


def test_unisound_auth_errors(uni):
    now = int(time.time() * 1000)
    assert uni.post("start", UNI_BODY, params=unisound_params(appkey="nobody")).json()["error_code"] == 23908
    assert uni.post("start", UNI_BODY, params={"timestamp": str(now), "signature": "X"}).json()["error_code"] == 23908
    bad = {**unisound_params(), "signature": "0" * 64}
    assert uni.post("start", UNI_BODY, params=bad).json()["error_code"] == 23902
    lower = unisound_params()
    lower["signature"] = lower["signature"].lower()
    assert uni.post("start", UNI_BODY, params=lower).json()["error_code"] == 23902
    stale = unisound_params(ts_ms=now - 6 * 60 * 1000)
    assert uni.post("start", UNI_BODY, params=stale).json()["error_code"] == 23902
    assert uni.post("start", UNI_BODY, params=unisound_params(secret="nope")).json()["error_code"] == 23902
    assert uni.post("progress", {"task_id": "x"}, params=unisound_params(appkey="x")).json()["error_code"] == 23908
    assert uni.post("start", UNI_BODY, params=unisound_params(ts_ms=now - 60_000)).json()["error_code"] == 0


def test_unisound_ip_whitelist(uni, sim):
    sim.set_faults({"unisound_ip_whitelist": ["10.9.8.7"]})
    assert uni.start()["error_code"] == 23909
    sim.set_faults({"unisound_ip_whitelist": ["10.9.8.7", "127.0.0.1"]})
    assert uni.start()["error_code"] == 0


def test_credentials_argument(state_dir):
    creds = {"xingyun": {"app_id": "xa", "secret": "xs"}, "unisound": {"appkey": "uk", "secret": "us"}}
    with start_in_thread(state_dir=state_dir, render_seconds=0.1, credentials=creds) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        assert XingyunClient(http).create()["error_code"] == 20001
        assert XingyunClient(http, "xa", "xs").create()["error_code"] == 0
        assert UnisoundClient(http).start()["error_code"] == 23908
        assert UnisoundClient(http, "uk", "us").start()["error_code"] == 0


def test_credentials_from_environment(state_dir, monkeypatch):
    monkeypatch.setenv("XINGYUN_APP_ID", "env-app")
    monkeypatch.setenv("XINGYUN_APP_SECRET", "env-secret")
    monkeypatch.setenv("UNISOUND_APPKEY", "env-key")  # secret stays sim-secret
    with start_in_thread(state_dir=state_dir, render_seconds=0.1) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        assert XingyunClient(http, "env-app", "env-secret").create()["error_code"] == 0
        assert XingyunClient(http).create()["error_code"] == 20001
        assert UnisoundClient(http, "env-key", "sim-secret").start()["error_code"] == 0


def _date(response: httpx.Response) -> float:
    return email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()


def test_every_response_has_a_date_header(xy, uni, http):
    task_id = xy.create_id()
    responses = [
        xy.get("get_render_task", task_id),
        xy.post("create_render_task", {}),
        uni.post("start", UNI_BODY, params={}),
        http.get("/nope"),
        http.get("/_sim/health"),
        http.get(f"/_sim/oss/xingyun/{task_id}.mp4"),
    ]
    for r in responses:
        assert abs(_date(r) - time.time()) < 5, r.request.url


def test_clock_offset_shows_in_date_and_breaks_timestamps(xy, sim):
    sim.set_faults({"clock_offset_seconds": 3600})
    r = xy.post("create_render_task", SEGMENT_BODY)
    assert r.json()["error_code"] == 20003
    assert 3590 < _date(r) - time.time() < 3610
