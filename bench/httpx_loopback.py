"""Does httpx need `sniffio` installed to be fast? Loopback requests/s with and without it.

httpcore asks `sniffio` which async library runs it on every connection-pool
operation; where `sniffio` is missing it falls back to a failing ``import sniffio``
each time. anyio >= 4.11 no longer depends on sniffio, so whether it is installed
depends on what else is installed, unless reconciler declares it. This measures both
in fresh processes against one `reconciler sim` process on 127.0.0.1:

- with:    this venv's site-packages as installed (sniffio declared in pyproject.toml);
- without: the same packages minus sniffio: each client runs with ``python -S`` and a
           folder of symlinks to every site-packages entry but sniffio's, so a failing
           ``import sniffio`` walks the path as it does when the package is not installed
           (``sys.modules["sniffio"] = None`` would fail fast and hide the cost).

Each client process sends N GETs of ``/_sim/health`` over one ``httpx.AsyncClient``
with C in flight, like the engine's parallelism. Rounds alternate; medians printed.

    .venv/bin/python bench/httpx_loopback.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apply_throughput import start_sim  # noqa: E402 - one way to start the simulator

CLIENT = """
import asyncio, sys, time
import httpx
import httpcore._synchronization as sync

calls = 0
probe = sync.current_async_library
def counted():
    global calls
    calls += 1
    return probe()
sync.current_async_library = counted  # how often httpcore asks which async library runs it

async def main(url, n, c):
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await client.get("/_sim/health")  # connect outside the clock
        left = iter(range(n))
        async def worker():
            for _ in left:
                (await client.get("/_sim/health")).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        rate = n / (time.perf_counter() - start)
    per_request = calls / (n + 1)
    start = time.perf_counter()
    for _ in range(2000):
        probe()
    print(rate, per_request, (time.perf_counter() - start) / 2000 * 1e6)

asyncio.run(main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def site_packages_view(root: Path, *, sniffio: bool) -> Path:
    """A folder of symlinks to this venv's site-packages entries (without sniffio's if asked)."""
    site = Path(sysconfig.get_paths()["purelib"])
    view = root / ("with" if sniffio else "without")
    view.mkdir()
    for entry in site.iterdir():
        if sniffio or not entry.name.lower().startswith("sniffio"):
            (view / entry.name).symlink_to(entry)
    return view


def measure(view: Path, url: str, requests: int, concurrency: int) -> tuple[float, float, float]:
    """(requests/s, sniffio look-ups per request, microseconds per look-up)."""
    env = {**os.environ, "PYTHONPATH": str(view)}
    out = subprocess.run([sys.executable, "-S", "-c", CLIENT, view.name, url, str(requests), str(concurrency)],
                         capture_output=True, text=True, check=True, timeout=300, env=env)
    rate, per_request, micros = map(float, out.stdout.split())
    return rate, per_request, micros


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        views = {"with": site_packages_view(Path(tmp), sniffio=True),
                 "without": site_packages_view(Path(tmp), sniffio=False)}
        (Path(tmp) / "project").mkdir()
        proc, url = start_sim(Path(tmp) / "project", render_seconds=1.0, latency_ms=0)
        try:
            results: dict[str, list[tuple[float, float, float]]] = {"with": [], "without": []}
            for _ in range(args.rounds):
                for mode in results:
                    results[mode].append(measure(views[mode], url, args.requests, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    rates = {mode: [r[0] for r in rounds] for mode, rounds in results.items()}
    for mode, rounds in results.items():
        print(f"{mode:>8} sniffio: {statistics.median(rates[mode]):7.0f} req/s "
              f"(rounds: {', '.join(f'{v:.0f}' for v in rates[mode])}); "
              f"{rounds[0][1]:.1f} look-ups a request, {statistics.median(r[2] for r in rounds):.1f} µs each")
    ratio = statistics.median(rates["with"]) / statistics.median(rates["without"])
    print(f"with/without: {ratio:.2f}x")


if __name__ == "__main__":
    main()
