"""Helpers for the end-to-end tests: the real console script against a simulator
running as its own ``reconciler sim`` process, over loopback HTTP.

Every wait here polls something observable (the sim's ledger, the state DB, files)
against a deadline; nothing sleeps a fixed long time.

A project's state is SQLite (the default file) or, with ``state_url``, a PostgreSQL
database of its own on the suite's server (docs/team.md). Tests that exercise the state
run on both (``on_both_backends``, ids ``[sqlite]`` / ``[postgresql]``); helpers read
the state through the store factory, so a test never names a backend it does not test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from reconciler.config import load_config
from reconciler.sim import media
from reconciler.state import manifest as manifest_mod
from reconciler.state import store as state_store
from tests.helpers import FAST_FIRST_POLL, XINGYUN_HEADER, tiny_pptx, wait_until  # noqa: F401 - wait_until: e2e tests import it from here

RECONCILER = str(Path(sys.executable).with_name("reconciler")) if Path(sys.executable).with_name(
    "reconciler").exists() else shutil.which("reconciler")

# Distinctive credentials: the sim accepts only these, and no file or output may contain the secrets.
SECRETS = {
    "XINGYUN_APP_ID": "e2e-xy-app", "XINGYUN_APP_SECRET": "XySecret-7f3a9c1e-do-not-leak",
    "UNISOUND_APPKEY": "e2e-uni-key", "UNISOUND_SECRET": "UniSecret-2b8d4e6f-do-not-leak",
}
SIM_RENDER_SECONDS = 0.6
# A dead holder's PostgreSQL lease runs out this fast in the tests (the default is 15 s).
TEST_LEASE_SECONDS = "3"

BACKENDS = ("sqlite", "postgresql")
# Run a test once per state backend: ``@on_both_backends`` or ``pytestmark = on_both_backends``
# (the ``project`` fixture reads ``state_backend``; tests/e2e/conftest.py).
on_both_backends = pytest.mark.parametrize("state_backend", BACKENDS, indirect=True)
# ... and through PgBouncer in transaction mode (docs/team.md; skipped where it is not installed).
on_every_backend = pytest.mark.parametrize("state_backend", (*BACKENDS, "pgbouncer"), indirect=True)


def database_url(request, backend: str) -> str | None:
    """A fresh database for ``backend``: none for SQLite, one on the session's server
    (``postgresql``), or one reached through the session's PgBouncer (``pgbouncer``)."""
    fixture = {"sqlite": None, "postgresql": "pg_url", "pgbouncer": "bouncer_url"}[backend]
    return request.getfixturevalue(fixture) if fixture else None


class Sim:
    """A ``reconciler sim`` process and its admin API."""

    def __init__(self, root: Path, render_seconds: float = SIM_RENDER_SECONDS):
        self.root = root
        env = {**os.environ, **SECRETS}
        env.pop("RECONCILER_SIM_RENDER_SECONDS", None)
        self.proc = subprocess.Popen(
            [RECONCILER, "-C", str(root), "sim", "--port", "0", "--render-seconds", str(render_seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = _readline(self.proc.stdout, deadline=time.monotonic() + 20)
        found = re.search(r"on (http://\S+?)[ ,;]", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"reconciler sim did not say where it listens: {line!r} {self.proc.stderr.read()}")
        self.url = found.group(1)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def faults(self, config: dict) -> None:
        self.http.post("/_sim/faults", json=config).raise_for_status()

    def ledger(self) -> list[dict]:
        return self.http.get("/_sim/ledger").json()["ledger"]

    def tasks(self) -> dict[tuple[str, str], dict]:
        return {(t["vendor"], t["task_id"]): t for t in self.http.get("/_sim/tasks").json()["tasks"]}

    def calls(self, kind: str, vendor: str | None = None) -> list[dict]:
        return [e for e in self.ledger() if e["kind"] == kind and (vendor is None or e["vendor"] == vendor)]

    def served_sha256(self, vendor: str, task_id: str) -> str:
        """sha256 of the bytes the sim serves for a finished task."""
        task = self.tasks()[(vendor, task_id)]
        return hashlib.sha256(media.task_video(vendor, task_id, task["fingerprint"], task["video_seconds"])).hexdigest()


def _readline(stream, deadline: float) -> str:
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            return stream.readline()
    raise TimeoutError("no output from reconciler sim")


def cut_off_database(url: str, allow: bool) -> None:
    """The project's database refuses new connections (or accepts them again), and every
    connection to it is dropped: the state's server unreachable, as in a network cut."""
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])


def read_until(stream, text: str, timeout: float = 20.0) -> str:
    """Read a child's pipe (unbuffered, so select() tells the truth) until ``text``
    appears; return what was read. Use it before any buffered read of the stream."""
    deadline, seen = time.monotonic() + timeout, b""
    while text.encode() not in seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} never appeared in {seen!r}")
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"{text!r} never appeared; the stream ended: {seen!r}")
            seen += chunk
    return seen.decode()


XINGYUN_SPEC = XINGYUN_HEADER + "{videos}\n"
UNISOUND_SPEC = """\
defaults:
  provider: unisound
  speech_param: {{vcn: xuanxuan-plus, speed: 55}}
  video_param: {{template: yadi_01, watermask: 0, background: 1, backgroundImage: color_lightgreen.png}}
videos:
{videos}
"""


class Project:
    """A temp project: reconciler.yaml, specs of both vendors, a deck; runs the CLI.
    Its state is ``state/reconciler.db``, or the PostgreSQL database ``state_url``
    (passed as ``RECONCILER_STATE_URL``, with a short test lease)."""

    def __init__(self, root: Path, sim: Sim, *, parallelism: int = 4, state_url: str | None = None):
        self.root = root
        self.sim = sim
        self.state_url = state_url
        root.mkdir(parents=True, exist_ok=True)
        (root / "reconciler.yaml").write_text(f"parallelism: {parallelism}\n")
        (root / "decks").mkdir(exist_ok=True)
        (root / "decks/deck.pptx").write_bytes(tiny_pptx())

    # -- specs ------------------------------------------------------------------------
    def write_specs(self, xingyun: dict[str, str] | None = None, unisound: dict[str, str] | None = None,
                    deck: bool = False) -> None:
        """Xingyun videos as {address: segment text}, Unisound as {address: text}."""
        specs = self.root / "specs"
        if specs.exists():
            shutil.rmtree(specs)
        specs.mkdir()
        lines = []
        for address, text in (xingyun or {}).items():
            lines += [f"  {address}:", f"    video_name: {address}", "    segment:",
                      f"      - text: {text}", "        media_url: https://media.example.com/a.png",
                      "      - text: 同期将举行多场论坛。"]
        if deck:
            lines += ["  xy/deck:", "    video_name: deck", "    ppt_file: ../decks/deck.pptx"]
        if lines:
            (specs / "xingyun.yaml").write_text(XINGYUN_SPEC.format(videos="\n".join(lines)))
        lines = []
        for address, text in (unisound or {}).items():
            lines += [f"  {address}:", f"    text: \"{text}\""]
        if lines:
            (specs / "unisound.yaml").write_text(UNISOUND_SPEC.format(videos="\n".join(lines)))

    def standard_specs(self, version: str = "v1") -> None:
        """Both vendors, segments, a PPT deck, Unisound TTS tags."""
        self.write_specs(
            xingyun={"xy/intro": f"为推动我国制造业数字化转型 {version}", "xy/agenda": f"上午九点 主论坛开幕 {version}"},
            unisound={"uni/q1": f"这是第<value>110</value>会议室 {version}",
                      "uni/q2": f"请您再说一遍<mute>300</mute>或说取消 {version}",
                      "uni/q3": f"世界卫生组织的英文缩写是<letter>WHO</letter> {version}"},
            deck=True)

    # -- running --------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RECONCILER_", "XINGYUN_", "UNISOUND_"))}
        env.update(SECRETS)
        env.update(FAST_FIRST_POLL)
        env.update({"XINGYUN_ENDPOINT": self.sim.url, "UNISOUND_ENDPOINT": self.sim.url,
                    "COLUMNS": "200"})
        if self.state_url:
            env.update({state_store.STATE_URL_VAR: self.state_url, "RECONCILER_TEST_LEASE_SECONDS": TEST_LEASE_SECONDS})
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 90, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([RECONCILER, "-C", str(self.root), *args], capture_output=True, text=True,
                              timeout=timeout, input=input, env=self.env(**env),
                              stdin=None if input is not None else subprocess.DEVNULL)

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen([RECONCILER, "-C", str(self.root), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=self.env(**env))

    def apply(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return self.run("apply", "--auto-approve", *args, **env)

    def apply_when_free(self, *args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess:
        """``apply`` after a writer was killed: on SQLite the dead holder's lock is free at
        once; a PostgreSQL lease runs out first (docs/team.md), so the apply is retried
        while it names a holder, within ``timeout`` seconds."""
        if not self.state_url:
            return self.apply(*args, **env)  # a lock left held here would be a bug, not a wait
        results = []

        def free():
            results.append(self.apply(*args, **env))
            return "locked by" not in results[-1].stderr

        wait_until(free, timeout=timeout, what="the dead writer's lease to expire")
        return results[-1]

    # -- reading what it left -------------------------------------------------------------
    def backend(self) -> state_store.StateBackend:
        """Where the project's state lives, chosen by the factory as a command would."""
        env = {state_store.STATE_URL_VAR: self.state_url} if self.state_url else {}
        return state_store.backend(load_config(self.root), env)

    def store(self, *, readonly: bool = True):
        """The project's state (a writable one holds no lease: for a test to plant a fact
        while no command runs)."""
        return self.backend().open(readonly=readonly)

    def recorded(self):
        store = self.store()
        try:
            return store.recorded()
        finally:
            store.close()

    def attempts(self) -> list[dict]:
        store = self.store()
        try:
            return store.attempts()
        finally:
            store.close()

    def lock_holder(self):
        """Who holds the writer role now (None when free): a probe that creates nothing."""
        return self.backend().lock().holder()

    def manifest(self) -> dict:
        return json.loads((self.root / "state/manifest.json").read_text())

    def plan_json(self) -> dict:
        result = self.run("plan", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def plan_actions(self) -> dict[str, str]:
        return {c["address"]: c["action"] for c in self.plan_json()["changes"]}


def assert_consistent(project: Project, *, all_finished: bool = True) -> None:
    """State, outputs and manifest agree, and each output is exactly what the sim served."""
    recorded = project.recorded()
    assert (project.root / "state/manifest.json").read_text() == manifest_mod.render_manifest(recorded)
    managed = set()
    for address, video in recorded.items():
        if all_finished:
            assert video.status.value == "finished" and video.has_output, (address, video.status, video.error)
        if video.has_output:
            path = project.root / video.output_file
            assert video.output_file == f"outputs/{address}.mp4"
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == video.output_sha256 == project.sim.served_sha256(
                video.provider, video.output_task_id), address
            assert len(data) == video.output_bytes
            assert_measured(project, video)
            poster = path.with_suffix(".jpg")  # docs/outputs.md: a poster beside every published video
            assert poster.read_bytes()[:3] == JPEG_START, f"{address}: {poster} is not a JPEG"
            managed |= {path, poster}
    outputs = project.root / "outputs"
    on_disk = {p for p in outputs.rglob("*") if p.is_file() and not p.relative_to(outputs).parts[0] == ".cache"
               } if outputs.exists() else set()  # the render cache's area (docs/cache.md) is not published
    assert on_disk == managed, f"stray files: {sorted(map(str, on_disk - managed))}"


JPEG_START = b"\xff\xd8\xff"


def assert_measured(project: Project, video) -> None:
    """The published output's recorded duration and frame size are the sim clip's (its
    length follows the text it was asked to speak: ``video_seconds``)."""
    task = project.sim.tasks()[(video.provider, video.output_task_id)]
    assert (video.output_width, video.output_height) == (media.WIDTH, media.HEIGHT), video.address
    assert video.output_duration_s == pytest.approx(task["video_seconds"], abs=0.001), video.address


def assert_no_duplicate_renders(project: Project, rerendered: frozenset[str] = frozenset()) -> None:
    """At most one create per request fingerprint whose answer arrived; every other one
    must be a create whose answer was lost (recorded as an unknown attempt). A
    fingerprint in ``rerendered`` (an output lost for good, re-rendered visibly by the
    next plan) may have one answered create more."""
    answered_ids = {a["task_id"] for a in project.attempts() if a["task_id"]}
    unknown = sum(1 for a in project.attempts() if a["status"] == "unknown")
    by_fp: dict[str, list[dict]] = defaultdict(list)
    for entry in project.sim.calls("create"):
        if entry["ok"]:
            by_fp[entry["fingerprint"]].append(entry)
    unanswered = 0
    for fp, creates in by_fp.items():
        answered = [c for c in creates if c["task_id"] in answered_ids]
        allowed = 2 if fp in rerendered else 1
        assert len(answered) <= allowed, f"fingerprint {fp[:12]} rendered {len(answered)} times with answers: {creates}"
        unanswered += len(creates) - len(answered)
    assert unanswered <= unknown, f"{unanswered} creates whose answer was lost, but {unknown} unknown attempts"


def grep_secrets(*texts_or_paths) -> list[str]:
    """Where any secret value appears (files are read as bytes)."""
    hits = []
    needles = [SECRETS["XINGYUN_APP_SECRET"], SECRETS["UNISOUND_SECRET"]]
    for item in texts_or_paths:
        if isinstance(item, Path):
            files = [p for p in item.rglob("*") if p.is_file()] if item.is_dir() else [item]
            for f in files:
                data = f.read_bytes()
                hits += [f"{f}: {n}" for n in needles if n.encode() in data]
        else:
            hits += [f"output: {n}" for n in needles if n in item]
    return hits


# -- outputs in a bucket (docs/outputs.md) -----------------------------------------------------------

class S3Project(Project):
    """A Project whose outputs are ``s3://<bucket>/<prefix>`` on the session's S3 server
    (tests/s3server.py). ``endpoint`` is what ``AWS_ENDPOINT_URL`` says: the server, or
    a fault proxy in front of it (tests/s3proxy.py). Any AWS_* of the developer's own
    environment is dropped, so a profile or a real endpoint is never used."""

    def __init__(self, root: Path, sim: Sim, s3, bucket: str, *, prefix: str = "videos/launch",
                 parallelism: int = 4, state_url: str | None = None):
        super().__init__(root, sim, parallelism=parallelism, state_url=state_url)
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.endpoint = s3.endpoint
        self.parallelism = parallelism
        self.public_url: str | None = None
        self.configure()

    def configure(self, extra: str = "", *, public_url: str | None = None) -> None:
        self.public_url = public_url
        lines = [f"parallelism: {self.parallelism}", f"outputs: s3://{self.bucket}/{self.prefix}"]
        if public_url:
            lines.append(f"outputs_public_url: {public_url}")
        (self.root / "reconciler.yaml").write_text("\n".join(lines) + "\n" + extra)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if not k.startswith("AWS_")}
        env.update(self.s3.env(self.endpoint))
        env.update(extra)
        return env

    # -- the bucket, read directly ------------------------------------------------------------
    def key(self, address: str, sha256: str) -> str:
        return f"{self.prefix}/{address}/{sha256}.mp4"

    def url(self, address: str, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.key(address, sha256)}"

    def objects(self, *, cache: bool = False, posters: bool = False) -> dict[str, int]:
        """Published videos under the prefix (key → size); with ``cache``, the render cache's;
        with ``posters``, the posters beside them too."""
        from tests import s3server

        found = s3server.objects(self.bucket, self.prefix + "/")
        cache_area = f"{self.prefix}/.cache/"
        return {k: v["size"] for k, v in found.items()
                if k.startswith(cache_area) == cache and (posters or not k.endswith(".jpg"))}

    def head(self, key: str) -> tuple[int, dict[str, str]] | None:
        from botocore.exceptions import ClientError

        try:
            reply = self.s3.client().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                return None
            raise
        return reply["ContentLength"], reply["Metadata"]

    def get(self, key: str) -> bytes:
        return self.s3.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def delete_object(self, key: str) -> None:
        self.s3.client().delete_object(Bucket=self.bucket, Key=key)

    def staged(self) -> list[Path]:
        """Verified downloads waiting for their upload (``state/uploads/``)."""
        uploads = self.root / "state/uploads"
        return sorted(p for p in uploads.rglob("*") if p.is_file()) if uploads.exists() else []


def assert_s3_consistent(project: S3Project, *, all_finished: bool = True, kept: frozenset[str] = frozenset(),
                         cached: bool = True, killed: bool = False) -> None:
    """State, manifest and bucket agree: each published output is the object
    ``<prefix>/<address>/<sha256>.mp4`` with the recorded size and sha256 metadata and
    exactly the bytes the sim served; no other object is published (``kept``: keys a
    test expects to stay, e.g. with keep_deleted_outputs); with ``cached``, each output
    is in the render cache too (a kill -9 between an output's record and its copy into
    the cache leaves it out: nothing lost, a later rename renders); nothing is left
    staged or written to a local outputs folder. Each output has its poster beside it; with
    ``killed`` (a kill -9 landed in the run) one may be missing, never wrong: a kill between a
    video's record and its poster leaves it without one in a bucket (docs/outputs.md)."""
    recorded = project.recorded()
    public = project.public_url

    def public_url(file):
        head = f"s3://{project.bucket}/{project.prefix}/"
        return f"{public}/{file[len(head):]}" if public and file and file.startswith(head) else None

    assert (project.root / "state/manifest.json").read_text() == manifest_mod.render_manifest(recorded, public_url)
    expected: set[str] = set()
    for address, video in recorded.items():
        if all_finished:
            assert video.status.value == "finished" and video.has_output, (address, video.status, video.error)
        if not video.has_output:
            continue
        key = project.key(address, video.output_sha256)
        assert video.output_file == f"s3://{project.bucket}/{key}", (address, video.output_file)
        assert project.head(key) == (video.output_bytes, {"sha256": video.output_sha256}), address
        data = project.get(key)
        assert hashlib.sha256(data).hexdigest() == video.output_sha256 == project.sim.served_sha256(
            video.provider, video.output_task_id), address
        assert_measured(project, video)
        poster = key.removesuffix(".mp4") + ".jpg"  # the poster object beside it
        if not (killed and project.head(poster) is None):
            assert project.get(poster)[:3] == JPEG_START, f"{address}: {poster} is not a JPEG"
            expected.add(poster)
        expected.add(key)
        if cached and video.status.value == "finished":
            cached = project.head(f"{project.prefix}/.cache/{video.fingerprint}.mp4")
            assert cached == (video.output_bytes, {"sha256": video.output_sha256}), f"{address}: not in the cache"
    published = set(project.objects(posters=True))
    kept = kept | {k.removesuffix(".mp4") + ".jpg" for k in kept if k.endswith(".mp4")}  # a kept video keeps its poster
    assert published == expected | kept, f"stray: {sorted(published - expected - kept)}, " \
                                         f"missing: {sorted((expected | kept) - published)}"
    if all_finished:
        assert project.staged() == [], f"left staged: {project.staged()}"
    local = project.root / "outputs"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()], "a local output was written"
