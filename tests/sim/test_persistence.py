"""Tasks outlive the process: a new simulator on the same state_dir (another port) sees
them, their states keep moving while nothing runs, and the ledger is on disk."""

from __future__ import annotations

import time

import httpx

from reconciler.sim import read_ledger, start_in_thread
from tests.sim.helpers import UnisoundClient, XingyunClient


def test_tasks_survive_a_restart_on_another_port(state_dir):
    with start_in_thread(state_dir=state_dir, render_seconds=0.3) as first, \
            httpx.Client(base_url=first.url, timeout=5) as http:
        x_id = XingyunClient(http).create_id()
        u_id = UnisoundClient(http).start_id()
        first_url = first.url
    time.sleep(0.35)  # the render time passes while no simulator runs
    with start_in_thread(state_dir=state_dir, render_seconds=5) as second, \
            httpx.Client(base_url=second.url, timeout=5) as http:
        assert second.url != first_url
        doc = XingyunClient(http).status(x_id)
        assert doc["data"]["synth_state"] == "finished"  # its own render time (0.3 s) was kept
        video = doc["data"]["render_video_oss"]
        assert video.startswith(second.url)  # built from this request's Host
        assert http.get(video).status_code == 200
        progress = UnisoundClient(http).progress(u_id)
        assert progress["task_status"] == "done"
        assert http.get(progress["video_address"]).status_code == 200
        assert XingyunClient(http).create_id() > x_id  # ids keep increasing


def test_one_shot_download_is_remembered_across_restarts(state_dir):
    with start_in_thread(state_dir=state_dir, render_seconds=0.05) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        uni = UnisoundClient(http)
        _, done = uni.wait(uni.start_id())
        assert http.get(done["video_address"]).status_code == 200
        task_id = done["task_id"]
    with start_in_thread(state_dir=state_dir) as sim, httpx.Client(base_url=sim.url, timeout=5) as http:
        assert http.get(f"/_sim/oss/unisound/{task_id}.mp4").status_code == 410


def test_two_simulators_share_one_state_dir_at_once(state_dir):
    with start_in_thread(state_dir=state_dir, render_seconds=0.1) as a, \
            start_in_thread(state_dir=state_dir, render_seconds=0.1) as b, \
            httpx.Client(base_url=a.url, timeout=5) as ha, httpx.Client(base_url=b.url, timeout=5) as hb:
        task_id = XingyunClient(ha).create_id()
        assert XingyunClient(hb).status(task_id)["error_code"] == 0
        other = XingyunClient(hb).create_id()
        assert other != task_id


def test_ledger_records_every_call_and_is_readable_from_disk(state_dir):
    with start_in_thread(state_dir=state_dir, render_seconds=0.05) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        xy = XingyunClient(http)
        a = xy.create_id()
        b = xy.create_id()  # the same request again: same fingerprint
        xy.create_id(video_name="other")
        xy.wait(a)
        xy.status(999999)
        http.get(xy.status(a)["data"]["render_video_oss"])
        via_http = http.get("/_sim/ledger").json()["ledger"]
        since = http.get("/_sim/ledger", params={"since": via_http[-2]["seq"]}).json()["ledger"]
        assert [e["seq"] for e in since] == [via_http[-1]["seq"]]
    ledger = read_ledger(state_dir)
    assert ledger == via_http
    creates = [e for e in ledger if e["kind"] == "create"]
    assert [e["task_id"] for e in creates[:2]] == [str(a), str(b)]
    assert creates[0]["fingerprint"] == creates[1]["fingerprint"] != creates[2]["fingerprint"]
    assert all(e["vendor"] == "xingyun" and e["ok"] for e in creates)
    statuses = [e for e in ledger if e["kind"] == "status"]
    assert statuses[-2]["ok"] is False and statuses[-2]["error_code"] == 30004
    assert statuses[0]["fingerprint"] == creates[0]["fingerprint"]
    assert ledger[-1]["kind"] == "download" and ledger[-1]["ok"] is True and ledger[-1]["task_id"] == str(a)
    for entry in ledger:
        assert set(entry) >= {"vendor", "kind", "task_id", "ok", "at", "fingerprint"}
        assert isinstance(entry["at"], float)


def test_ppt_fingerprint_depends_on_the_deck_not_the_upload_name(state_dir):
    from tests.helpers import tiny_pptx
    from tests.sim.helpers import PPT_BODY

    with start_in_thread(state_dir=state_dir, render_seconds=0.05) as sim, \
            httpx.Client(base_url=sim.url, timeout=5) as http:
        xy = XingyunClient(http)
        names = [xy.upload(tiny_pptx(text))["data"]["parse_ppt_file_name"] for text in ("A", "A", "B")]
        assert len(set(names)) == 3
        for name in names:
            xy.create_id(PPT_BODY, parse_ppt_file_name=name)
    creates = [e for e in read_ledger(state_dir) if e["kind"] == "create"]
    assert creates[0]["fingerprint"] == creates[1]["fingerprint"] != creates[2]["fingerprint"]


def test_read_ledger_without_a_database_is_empty(tmp_path):
    assert read_ledger(tmp_path / "nothing-here") == []
