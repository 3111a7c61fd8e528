"""Fault injection: each fault kind, queues, seeded probabilities, latency, environment."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from reconciler.sim import read_ledger, start_in_thread
from tests.sim.helpers import SEGMENT_BODY, UNI_BODY, UnisoundClient, XingyunClient


def _tasks(http) -> list[dict]:
    return http.get("/_sim/tasks").json()["tasks"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_error_is_not_processed(sim, xy, http, status):
    sim.set_faults({"queue": {"xingyun.create": [f"http_{status}"]}})
    r = xy.post("create_render_task", SEGMENT_BODY)
    assert r.status_code == status
    if status in (429, 503):
        assert r.headers["retry-after"] == "1"
    assert _tasks(http) == []
    entry = sim.ledger()[-1]
    assert entry["kind"] == "create" and entry["ok"] is False and entry["fault"] == f"http_{status}"
    assert xy.create()["error_code"] == 0  # the queue is used up


def test_drop_closes_without_answer_and_creates_nothing(sim, xy, http):
    sim.set_faults({"queue": {"create": ["drop"]}})
    with pytest.raises(httpx.RemoteProtocolError):
        xy.create()
    assert _tasks(http) == []
    entry = sim.ledger()[-1]
    assert (entry["ok"], entry["fault"], entry["http_status"], entry["task_id"]) == (False, "drop", None, None)


def test_lost_answer_creates_the_task(sim, xy, http):
    sim.set_faults({"queue": {"xingyun.create": ["lost"]}})
    with pytest.raises(httpx.RemoteProtocolError):
        xy.create()
    tasks = _tasks(http)
    assert len(tasks) == 1
    entry = sim.ledger()[-1]
    assert entry["ok"] is True and entry["fault"] == "lost"
    assert entry["task_id"] == tasks[0]["task_id"] and entry["fingerprint"] == tasks[0]["fingerprint"]


def test_lost_answer_on_unisound_start(sim, uni, http):
    sim.set_faults({"queue": {"unisound.create": ["lost"]}})
    with pytest.raises(httpx.RemoteProtocolError):
        uni.start()
    assert [t["vendor"] for t in _tasks(http)] == ["unisound"]


def test_garbage_body(sim, xy, http):
    sim.set_faults({"queue": {"status": ["garbage"]}})
    task_id = xy.create_id()
    r = xy.get("get_render_task", task_id)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert sim.ledger()[-1]["fault"] == "garbage"


def test_slow_answer_and_client_timeout(sim, xy, http):
    sim.set_faults({"queue": {"status": [{"fault": "slow", "delay_ms": 300}],
                              "create": [{"fault": "slow", "delay_ms": 1000}]}})
    with httpx.Client(base_url=http.base_url, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            XingyunClient(impatient).create()
    tasks = _tasks(http)
    assert len(tasks) == 1  # the create was processed: its answer just came too late
    task_id = int(tasks[0]["task_id"])
    t0 = time.monotonic()
    assert xy.status(task_id)["error_code"] == 0
    assert time.monotonic() - t0 >= 0.3


def test_truncated_download_uses_up_the_unisound_video(sim, uni, http):
    task_id = uni.start_id()
    _, done = uni.wait(task_id)
    sim.set_faults({"queue": {"unisound.download": ["truncate"]}})
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(done["video_address"])
    assert http.get(done["video_address"]).status_code == 410
    assert sim.ledger()[-2]["fault"] == "truncate"


def test_error_fault_with_a_code(sim, xy, uni):
    sim.set_faults({"queue": {"xingyun.status": [{"fault": "error", "code": 30004}],
                              "unisound.create": [{"fault": "error", "code": 23907}]}})
    task_id = xy.create_id()
    assert xy.status(task_id)["error_code"] == 30004
    assert xy.status(task_id)["error_code"] == 0
    assert uni.start()["error_code"] == 23907


def test_queue_order_placeholders_and_key_precedence(sim, xy, uni):
    sim.set_faults({"queue": {"xingyun.status": ["ok", "http_503"], "status": ["http_500"], "*": ["http_429"]}})
    assert xy.post("create_render_task", SEGMENT_BODY).status_code == 429  # "*" applies to create
    task_id = xy.create_id()
    assert xy.get("get_render_task", task_id).status_code == 200  # "ok" placeholder
    assert xy.get("get_render_task", task_id).status_code == 503  # vendor.kind before kind
    assert uni.post("progress", {"task_id": "0" * 32}).status_code == 500  # kind for the other vendor
    assert xy.get("get_render_task", task_id).status_code == 200
    assert sim.pending_faults() == {}


def _outcomes(state_dir, seed: int, n: int = 40) -> list[int]:
    config = {"probability": {"status": {"http_503": 0.3, "garbage": 0.2}}}
    with start_in_thread(state_dir=state_dir, render_seconds=1, seed=seed, faults=config) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        xy = XingyunClient(http)
        task_id = xy.create_id()
        out = []
        for _ in range(n):
            r = xy.get("get_render_task", task_id)
            out.append(r.status_code if r.status_code != 200 else (0 if r.content.startswith(b"{") else 1))
        return out


def test_probabilities_are_reproducible_with_a_seed(tmp_path):
    a = _outcomes(tmp_path / "a", seed=42)
    b = _outcomes(tmp_path / "b", seed=42)
    c = _outcomes(tmp_path / "c", seed=43)
    assert a == b != c
    assert {0, 1, 503} <= set(a)


def test_a_seed_in_the_configuration_beats_the_constructor_seed(sim, xy):
    config = {"seed": 9, "probability": {"status": {"http_500": 0.5}}}
    task_id = xy.create_id()
    runs = []
    for _ in range(2):
        sim.set_faults(config)  # re-seeds: the same configuration replays the same faults
        runs.append([xy.get("get_render_task", task_id).status_code for _ in range(20)])
    assert runs[0] == runs[1] and {200, 500} <= set(runs[0])


def test_latency_is_added_to_every_vendor_call(state_dir):
    with start_in_thread(state_dir=state_dir, latency_ms=60) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        xy = XingyunClient(http)
        task_id = xy.create_id()
        t0 = time.monotonic()
        for _ in range(3):
            xy.status(task_id)
        assert time.monotonic() - t0 >= 0.18
        sim.set_faults({"latency_ms": 60_000})
        # admin calls are not slowed: one answers well within a timeout the latency would blow
        assert http.get("/_sim/health", timeout=10).status_code == 200


def test_environment_configures_faults_latency_and_render_time(state_dir, monkeypatch):
    monkeypatch.setenv("RECONCILER_SIM_FAULTS", json.dumps({"queue": {"unisound.create": ["http_503"]}}))
    monkeypatch.setenv("RECONCILER_SIM_LATENCY_MS", "5")
    monkeypatch.setenv("RECONCILER_SIM_RENDER_SECONDS", "0.05")
    with start_in_thread(state_dir=state_dir, render_seconds=100) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        doc = http.get("/_sim/faults").json()
        assert doc["config"]["latency_ms"] == 5 and doc["render_seconds"] == 0.05
        assert doc["pending"] == {"unisound.create": ["http_503"]}
        uni = UnisoundClient(http)
        assert uni.post("start", UNI_BODY).status_code == 503
        seen, _ = uni.wait(uni.start_id(), timeout=3)
        assert seen[-1] == "done"


def test_environment_file_reference(state_dir, monkeypatch, tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"queue": {"create": ["drop"]}}))
    monkeypatch.setenv("RECONCILER_SIM_FAULTS", f"@{path}")
    with start_in_thread(state_dir=state_dir) as sim:
        assert sim.pending_faults() == {"create": ["drop"]}


def test_bad_environment_is_an_error(state_dir, monkeypatch):
    monkeypatch.setenv("RECONCILER_SIM_FAULTS", "{not json")
    with pytest.raises(ValueError, match="RECONCILER_SIM_FAULTS"):
        start_in_thread(state_dir=state_dir)


def test_admin_faults_endpoint(http, sim):
    config = {"seed": 3, "queue": {"xingyun.create": ["lost", {"fault": "slow", "delay_ms": 10}]},
              "probability": {"download": {"http_500": 0.5, "slow": {"p": 0.1, "delay_ms": 20}}}}
    r = http.post("/_sim/faults", json=config)
    assert r.status_code == 200
    assert r.json()["pending"] == {"xingyun.create": ["lost", {"fault": "slow", "delay_ms": 10}]}
    assert http.get("/_sim/faults").json()["config"] == config
    for bad in ({"queue": {"create": ["explode"]}}, {"nonsense": 1},
                {"probability": {"status": {"http_500": 0.8, "drop": 0.5}}}, [1, 2]):
        r = http.post("/_sim/faults", json=bad)
        assert r.status_code == 400 and r.json()["error"], bad
    assert http.post("/_sim/faults", json={}).json()["pending"] == {}


def test_admin_reset_forgets_everything(http, sim, xy, state_dir):
    task_id = xy.create_id()
    sim.set_faults({"queue": {"create": ["drop"]}})
    assert http.post("/_sim/reset").json() == {"ok": True}
    assert _tasks(http) == [] and read_ledger(state_dir) == []
    assert xy.status(task_id)["error_code"] == 30004
    assert xy.create_id() > task_id  # ids are never reused


def test_render_times_grow_with_the_script_differ_per_vendor_and_spread():
    from reconciler.sim.settings import build_settings

    plain = build_settings({}, default_render_seconds=5)
    assert plain.render_time("xingyun", "1", ["a" * 300]) == 5.0  # nothing set: as before
    model = {"seed": 1, "render_per_char": 0.01, "render_per_segment": 0.5, "render_scale": {"unisound": 0.5}}
    s = build_settings(model, default_render_seconds=2)
    assert s.render_time("xingyun", "1", ["a" * 100, "b" * 100]) == pytest.approx(2 + 2 + 1)
    assert s.render_time("unisound", "1", ["a" * 100]) == pytest.approx(1 + 1 + 0.5)
    spread = build_settings({**model, "render_spread": 0.3}, default_render_seconds=2)
    times = [spread.render_time("xingyun", str(i), ["a" * 100]) for i in range(200)]
    assert 3.5 * 0.7 <= min(times) < 3.5 * 0.8 and 3.5 * 1.2 < max(times) <= 3.5 * 1.3
    assert times == [spread.render_time("xingyun", str(i), ["a" * 100]) for i in range(200)]  # by seed and task
    with pytest.raises(ValueError, match="render_spread"):
        build_settings({"render_spread": 1.5}, default_render_seconds=2)
