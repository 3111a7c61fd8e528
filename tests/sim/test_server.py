"""The server itself: keep-alive, concurrency and throughput, bounded stop, the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from reconciler.sim import start_in_thread
from tests.sim.helpers import XingyunClient, poll


def _read_response(sock_file) -> tuple[int, bytes]:
    status = int(sock_file.readline().split()[1])
    length = 0
    while (line := sock_file.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, sock_file.read(length)


def test_keep_alive_serves_several_requests_on_one_connection(sim):
    host, port = sim.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock, sock.makefile("rb") as f:
        for _ in range(3):
            sock.sendall(f"GET /_sim/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            status, body = _read_response(f)
            assert status == 200 and b'"ok": true' in body


def test_concurrent_clients_and_throughput(sim, capsys):
    with httpx.Client(base_url=sim.url, timeout=5) as http:
        task_id = XingyunClient(http).create_id()
    errors: list[Exception] = []
    per_thread, threads = 60, 16

    def worker():
        try:
            with httpx.Client(base_url=sim.url, timeout=10) as http:
                xy = XingyunClient(http)
                for _ in range(per_thread):
                    assert xy.status(task_id)["error_code"] == 0
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    t0 = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    elapsed = time.monotonic() - t0
    assert not errors, errors[:3]
    rate = per_thread * threads / elapsed
    with capsys.disabled():
        print(f"\n[sim] {per_thread * threads} signed status calls from {threads} clients: {rate:.0f} req/s")
    assert rate > 200  # loose floor for a busy 2-core CI box; ~1000 req/s is typical here
    assert len([e for e in sim.ledger() if e["kind"] == "status"]) == per_thread * threads


def test_stop_is_bounded_with_idle_keep_alive_connections(state_dir):
    sim = start_in_thread(state_dir=state_dir)
    clients = [httpx.Client(base_url=sim.url, timeout=5) for _ in range(4)]
    for c in clients:
        assert c.get("/_sim/health").status_code == 200  # leaves an idle keep-alive connection
    t0 = time.monotonic()
    sim.stop()
    assert time.monotonic() - t0 < 10  # bounded however busy the machine: idle keep-alive clients hold nothing up
    sim.stop()  # idempotent
    for c in clients:
        c.close()
    with start_in_thread(state_dir=state_dir, port=sim.port) as again:  # the port can be reused at once
        assert httpx.get(f"{again.url}/_sim/health", timeout=5).status_code == 200


def test_stop_interrupts_a_slow_fault(state_dir):
    sim = start_in_thread(state_dir=state_dir, faults={"queue": {"create": [{"fault": "slow", "delay_ms": 30000}]}})
    http = httpx.Client(base_url=sim.url, timeout=60)
    thread = threading.Thread(target=lambda: _swallow(lambda: XingyunClient(http).create()))
    thread.start()
    poll(lambda: [e for e in sim.ledger() if e["kind"] == "create"], bool, timeout=5)
    t0 = time.monotonic()
    sim.stop()
    assert time.monotonic() - t0 < 15  # well before the 30 s fault ends, however busy the machine
    thread.join(5)
    http.close()


def _swallow(fn):
    try:
        fn()
    except httpx.HTTPError:
        pass


def _start_cli(project: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_SIM_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "-C", str(project), "sim", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _cli_url(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert "XINGYUN_ENDPOINT=http://127.0.0.1:" in line and "UNISOUND_ENDPOINT=" in line, line
    return line.split("XINGYUN_ENDPOINT=")[1].split()[0]


def test_cli_serves_until_sigterm_and_keeps_tasks_under_state(tmp_path):
    proc = _start_cli(tmp_path, "--render-seconds", "0.1")
    try:
        url = _cli_url(proc)
        with httpx.Client(base_url=url, timeout=5) as http:
            XingyunClient(http).wait(XingyunClient(http).create_id())
        assert (tmp_path / "state" / "sim.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == "", err


def test_cli_stops_on_ctrl_c(tmp_path):
    proc = _start_cli(tmp_path)
    try:
        _cli_url(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_cli_never_prints_a_secret_from_the_environment(tmp_path):
    env = {**os.environ, "XINGYUN_APP_SECRET": "TOP-SECRET-X", "UNISOUND_SECRET": "TOP-SECRET-U"}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(tmp_path), "sim", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("reconciler sim:")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert "TOP-SECRET" not in line + out + err


def test_cli_port_in_use_exits_1(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(tmp_path), "sim", "--port", str(port)],
                              capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert "cannot serve" in proc.stderr and "Traceback" not in proc.stderr
