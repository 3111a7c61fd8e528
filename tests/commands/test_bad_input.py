"""Bad input that cannot be a committed fixture (FIFOs, symlinks, state files, bytes in
argv, modes) fails cleanly through the real console script: exit 1, a message naming
the file, no traceback, and nothing written (issue 9 sections 5 and 6).

``tests/malformed/`` holds the cases that are plain files; this file holds the rest.
Nothing here calls a vendor: where a command could, the project has no credentials
and points at an address nothing listens on, so any attempt would show as an error.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.model import Status
from reconciler.state.sqlite import StateStore
from tests.helpers import FAST_FIRST_POLL

SPEC = """\
defaults:
  provider: unisound
  speech_param: {vcn: xuanxuan-plus}
  video_param: {template: yadi_01, background: 1}
videos:
  faq/q1:
    text: 你好
  faq/q2:
    text: 再见
"""
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "faq.yaml").write_text(SPEC, encoding="utf-8")
    return root


def run(project: Path, *args, timeout: float = 60, **extra_env) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env.update({"COLUMNS": "200", "XINGYUN_ENDPOINT": NOWHERE, "UNISOUND_ENDPOINT": NOWHERE, **FAST_FIRST_POLL,
                **extra_env})
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` and the bytes of its regular files (None for others)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return out


def without_lock(snap: dict) -> dict:
    """A snapshot less the lock file, which apply and refresh create before they read."""
    return {k: v for k, v in snap.items() if not k.endswith(".db.lock")}


def assert_clean_failure(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    for part in parts:
        assert part in result.stderr, (part, result.stderr)


def recorded_state(project: Path, finished: bool = True) -> Path:
    """A state in which both videos of SPEC rendered; returns the DB path."""
    from reconciler.specs import loader

    config = load_config(project)
    store = StateStore(config.state_path)
    try:
        for n, (address, video) in enumerate(sorted(loader.load_specs(config, {}).desired().items()), start=1):
            attempt = store.begin_attempt(video, holder="test")
            store.attempt_submitted(address, attempt, str(n))
            if finished:
                store.record_task(address, str(n), Status.FINISHED, video_url=f"https://cdn/{n}.mp4")
    finally:
        store.close()
    return config.state_path


# -- files under specs/ --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["specs/pipe.yaml", "vars.yaml", "reconciler.yaml"])
def test_a_fifo_is_refused_at_once_not_waited_on(project, where):
    os.mkfifo(project / where)
    before = snapshot(project)
    for command in (["validate"], ["plan"]):
        result = run(project, *command, timeout=20)  # before: validate blocked forever on the FIFO
        assert_clean_failure(result, where, "FIFO")
    assert snapshot(project) == before


def test_a_symlinked_folder_inside_the_project_is_followed(project):
    shared = project / "shared"
    shared.mkdir()
    (shared / "more.yaml").write_text(SPEC.replace("faq/", "shared/"), encoding="utf-8")
    (project / "specs" / "shared").symlink_to("../shared", target_is_directory=True)
    (project / "specs" / "loop").symlink_to(".", target_is_directory=True)  # a cycle ends
    result = run(project, "validate")
    assert (result.returncode, result.stdout.strip()) == (0, "4 videos OK"), result.stderr
    plan = run(project, "plan", "--json")
    assert '"address": "shared/q1"' in plan.stdout and '"file": "specs/shared/more.yaml"' in plan.stdout


def test_a_symlinked_folder_leading_outside_the_project_is_an_error(project, tmp_path):
    db = recorded_state(project)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "more.yaml").write_text(SPEC.replace("faq/", "ext/"), encoding="utf-8")
    (project / "specs" / "ext").symlink_to(outside, target_is_directory=True)
    before = snapshot(project)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run(project, *command)  # before: skipped in silence, its videos proposed for deletion
        assert_clean_failure(result, "specs/ext: a symlink that leads outside the project")
    assert without_lock(snapshot(project)) == without_lock(before) and db.exists()


# -- bytes that are not text ---------------------------------------------------------------


def test_a_var_that_is_not_utf8_is_an_error(project):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_"))}
    for command in (b"validate", b"plan"):
        proc = subprocess.run([sys.executable.encode(), b"-m", b"reconciler", b"-C", bytes(project), command,
                               b"--var", b"brand=\xff\xfe"], capture_output=True, env=env, timeout=60)
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert "--var: brand: the value (or name) is not valid UTF-8" in err
    assert snapshot(project) == {"specs": None, "specs/faq.yaml": SPEC.encode()}


# -- a corrupt state -------------------------------------------------------------------------


def _corrupt(kind: str, db: Path) -> None:
    if kind == "zero_bytes":
        db.write_bytes(b"")
    elif kind == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    elif kind == "not_sqlite":
        db.write_bytes(b"this is not a database\n" * 300)
    else:
        conn = sqlite3.connect(db)
        conn.execute({"missing_table": "DROP TABLE videos",
                      "unknown_status": "UPDATE videos SET status = 'rendred' WHERE address = 'faq/q1'",
                      "text_for_a_number": "UPDATE videos SET attempt = 'two' WHERE address = 'faq/q1'",
                      "broken_json": "UPDATE videos SET labels = '{owner' WHERE address = 'faq/q1'",
                      "generation_not_a_number": "UPDATE meta SET value = 'x' WHERE key = 'generation'"}[kind])
        conn.commit()
        conn.close()


CORRUPT = {
    "zero_bytes": "the state database is empty (0 bytes)",
    "truncated": "restore it from a backup",
    "not_sqlite": "cannot read the state database",
    "missing_table": "table videos is missing",
    "unknown_status": "video 'faq/q1', column status: 'rendred' is not one of pending",
    "text_for_a_number": "video 'faq/q1', column attempt: 'two' is not a number",
    "broken_json": "video 'faq/q1', column labels: not valid JSON",
    "generation_not_a_number": "meta generation is 'x', not a number",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_a_corrupt_state_is_an_error_and_is_left_as_it_is(project, kind):
    """A zero-byte state used to read as empty: plan proposed to render everything again
    and apply would have; a hand-edited row was a traceback."""
    db = recorded_state(project)
    _corrupt(kind, db)
    before = snapshot(project)
    for command in (["plan"], ["plan", "--json"], ["status"], ["status", "--json"], ["apply", "--auto-approve"],
                    ["refresh"]):
        result = run(project, *command)
        assert_clean_failure(result, "reconciler.db", CORRUPT[kind])
        assert "create" not in result.stdout, result.stdout
    assert without_lock(snapshot(project)) == without_lock(before)


def test_the_lock_path_being_a_folder_is_an_error(project):
    recorded_state(project)
    (project / "state" / "reconciler.db.lock").mkdir()
    before = snapshot(project)
    for command in (["plan"], ["apply", "--auto-approve"], ["refresh"]):
        result = run(project, *command)
        assert_clean_failure(result, "reconciler.db.lock: cannot use the state lock file")
    assert snapshot(project) == before


def test_a_new_state_is_never_left_as_a_zero_byte_file(project, monkeypatch):
    """A writer builds a new state under a temporary name and renames it whole: one that
    dies while building it leaves no ``reconciler.db`` (which would then read as broken)."""
    def dies(self, *args, **kwargs):
        raise KeyboardInterrupt("killed while creating the schema")

    with monkeypatch.context() as patched:
        patched.setattr(StateStore, "_migrate", dies)
        with pytest.raises(KeyboardInterrupt):
            StateStore(project / "state" / "reconciler.db")
    assert not (project / "state" / "reconciler.db").exists()
    store = StateStore(project / "state" / "reconciler.db")
    store.close()
    assert sorted(p.name for p in (project / "state").iterdir()) == ["reconciler.db"]
    assert (project / "state" / "reconciler.db").stat().st_size > 0
    assert StateStore.open_readonly(project / "state" / "reconciler.db").recorded() == {}


# -- options that would be ignored, paths that must not be written -------------------------


@pytest.mark.parametrize("options", [["--target", "faq/q1"], ["--replace", "faq/q1"], ["--var", "a=b"],
                                     ["--allow-mass-delete"]])
def test_apply_file_refuses_planning_options(project, options):
    assert run(project, "plan", "--out", "saved.plan").returncode == 0
    before = snapshot(project)
    result = run(project, "apply", "saved.plan", *options)
    assert_clean_failure(result, f"{options[0]} cannot be used with a saved plan")
    assert snapshot(project) == before  # not even a lock file or a state DB


@pytest.mark.parametrize("target", ["state/reconciler.db", "state/reconciler.db-wal", "state/reconciler.db.lock",
                                    "state/manifest.json", "outputs/faq/q1.mp4", "outputs/new.json",
                                    "specs/faq.yaml", "specs/plan.json", "state/.speccache/x.bin",
                                    "reconciler.yaml", "vars.yaml"])
def test_plan_out_refuses_a_path_the_tool_manages(project, target):
    (project / "vars.yaml").write_text("brand: x\n")
    recorded_state(project)
    (project / "state" / "manifest.json").write_text("{}\n")
    before = snapshot(project)
    result = run(project, "plan", "--out", target)
    assert_clean_failure(result, "refusing to write the plan there")
    assert snapshot(project) == before


def test_plan_out_through_a_symlink_to_the_state_is_refused(project):
    db = recorded_state(project)
    (project / "innocent.json").symlink_to(db)
    before = snapshot(project)
    assert_clean_failure(run(project, "plan", "--out", "innocent.json"), "it is the state database")
    assert snapshot(project) == before


# -- readers write nothing -------------------------------------------------------------------


def test_readers_write_nothing_on_bad_input_in_a_fresh_project(project):
    """A good file beside a bad one: before, the good one's spec cache entry created state/."""
    (project / "specs" / "bad.yaml").write_text("videos:\n  x/one: 5\n", encoding="utf-8")
    before = snapshot(project)
    for command in (["validate"], ["plan"], ["plan", "--out", "p.plan"], ["plan", "--json"]):
        assert_clean_failure(run(project, *command), "specs/bad.yaml:2")
    assert run(project, "status").returncode == 0
    assert snapshot(project) == before  # no state/, no cache, no lock file, no DB, no plan file


def test_readers_work_on_a_read_only_state_folder(project):
    """As root, file modes are not honoured, so the commands run as root without the
    capabilities that override them (``setpriv`` drops CAP_DAC_OVERRIDE and CAP_FOWNER):
    for that process the read-only modes hold, while the checkout and its interpreter stay
    reachable wherever the clone lives (a uid such as nobody cannot enter a 0700 folder
    holding it). This proves a reader needs no write access to the state folder (nor to
    the project)."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    try:
        recorded_state(project, finished=False)
        state = project / "state"
        for path in [project, *project.rglob("*")]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        before = snapshot(project)
        no_override = ["setpriv", "--inh-caps=-dac_override,-fowner",
                       "--bounding-set=-dac_override,-fowner"] if os.geteuid() == 0 else []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_"))}
        env["COLUMNS"] = "200"
        if no_override:  # the modes really hold for such a process
            probe = subprocess.run([*no_override, sys.executable, "-c", "import sys; open(sys.argv[1], 'w')",
                                    str(state / "probe")], capture_output=True, text=True, timeout=60)
            assert probe.returncode != 0 and "Permission denied" in probe.stderr, probe.stderr
        outputs = {}
        for command in (["validate"], ["plan"], ["status"], ["status", "--json"]):
            proc = subprocess.run([*no_override, sys.executable, "-m", "reconciler", "-C", str(project), *command],
                                  capture_output=True, text=True, env=env, timeout=60, cwd="/")
            assert proc.returncode == 0, (command, proc.stderr)
            outputs[" ".join(command)] = proc.stdout
        assert "2 videos OK" in outputs["validate"]
        assert "faq/q1" in outputs["status"] and "rendering" in outputs["status"]
        assert '"status": "rendering"' in outputs["status --json"]
        assert "No changes" in outputs["plan"]
        assert snapshot(project) == before
        assert not os.access(state, os.W_OK) or os.geteuid() == 0
    finally:
        for path in [project, *project.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)


# -- the simulator's settings from the environment -------------------------------------------

BAD_SIM_ENV = {
    "not_json": ({"RECONCILER_SIM_FAULTS": "{latency_ms: 5"}, "RECONCILER_SIM_FAULTS is not valid JSON"),
    "not_an_object": ({"RECONCILER_SIM_FAULTS": "[]"}, "RECONCILER_SIM_FAULTS must be a JSON object"),
    "missing_file": ({"RECONCILER_SIM_FAULTS": "@/nonexistent/faults.json"},
                     "RECONCILER_SIM_FAULTS file /nonexistent/faults.json: cannot read it"),
    "unknown_fault": ({"RECONCILER_SIM_FAULTS": '{"queue": {"create": ["nope"]}}'}, "unknown fault 'nope'"),
    "nan_latency": ({"RECONCILER_SIM_LATENCY_MS": "nan"}, "RECONCILER_SIM_LATENCY_MS must be a finite number"),
    "render_not_a_number": ({"RECONCILER_SIM_RENDER_SECONDS": "fast"},
                            "RECONCILER_SIM_RENDER_SECONDS must be a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_SIM_ENV))
def test_malformed_simulator_settings_are_a_clear_error(project, case):
    env, message = BAD_SIM_ENV[case]
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(project), "sim", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        out, err = proc.communicate(timeout=20)  # before: some of these served as if all were well
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1 and "Traceback" not in err, (out, err)
    assert message in err

    (project / "reconciler.yaml").write_text("providers:\n  unisound: {endpoint: sim}\n")
    result = run(project, "apply", "--auto-approve", UNISOUND_ENDPOINT="", **env)
    assert_clean_failure(result)
    assert message in result.stdout + result.stderr
    assert StateStore.open_readonly(project / "state" / "reconciler.db").recorded() == {}  # nothing sent
