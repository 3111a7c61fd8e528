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

Targets: wall time within 1.5x of the limit, at most 6 status calls per render,
peak memory under 150 MB.
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


def write_project(root: Path, videos: int, parallelism: int) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(f"parallelism: {parallelism}\n")
    half = videos // 2
    xy = ["defaults: {provider: xingyun, look_name: AM054_Jap_9021_new, tts_vcn_name: XMOV_HN_TTS__236,"
          " studio_name: youling_2d_v}", "videos:"]
    xy += [f"  xy/v{i:04d}: {{segment: [{{text: 第{i}段讲解}}]}}" for i in range(half)]
    uni = ["defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, video_param: {template: yadi_01, background: 1}}",
           "videos:"]
    uni += [f"  uni/v{i:04d}: {{text: 这是第<value>{i}</value>会议室}}" for i in range(videos - half)]
    (root / "specs/xingyun.yaml").write_text("\n".join(xy) + "\n")
    (root / "specs/unisound.yaml").write_text("\n".join(uni) + "\n")


def run_apply(root: Path, url: str, parallelism: int) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of one `reconciler apply` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env.update(XINGYUN_ENDPOINT=url, UNISOUND_ENDPOINT=url, XINGYUN_APP_ID="sim-app", XINGYUN_APP_SECRET="sim-secret",
               UNISOUND_APPKEY="sim-app", UNISOUND_SECRET="sim-secret")
    started = time.perf_counter()
    proc = subprocess.Popen([RECONCILER, "-C", str(root), "apply", "--auto-approve", "--parallelism",
                             str(parallelism)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--render-seconds", type=float, default=5)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--naive", type=int, default=20, help="videos the naive script renders (scaled up)")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    sim, url = start_sim(tmp / "sim", args.render_seconds, args.latency_ms)
    try:
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
