"""The one place that chooses a state backend, seen from the command line.

A `state` this version cannot serve (PostgreSQL comes in a later issue) must be a clear
config error naming where it was set, exit 1, no traceback, and nothing created: no
state folder, no lock file, no spec cache. A password in ``RECONCILER_STATE_URL`` never
reaches the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.state import store as state_store

RECONCILER = str(Path(sys.executable).with_name("reconciler"))

SPEC = """\
videos:
  faq/q1:
    provider: unisound
    text: 你好
    speech_param: {vcn: xuanxuan-plus}
    video_param: {template: yadi_01, background: 1}
"""


def project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "faq.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(config, encoding="utf-8")
    return tmp_path


def run(root: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XINGYUN_", "UNISOUND_", state_store.STATE_URL_VAR))}
    env.update(env_extra)
    return subprocess.run([RECONCILER, "-C", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["status"], ["refresh"], ["validate"],
                                     ["watch"], ["doctor"]])
def test_a_postgresql_state_is_refused_for_now_and_nothing_is_created(tmp_path, command):
    root = project(tmp_path, "parallelism: 2\nstate: postgresql://reconciler@db.example.com:5432/videos\n")
    before = files(root)
    result = run(root, *command)
    assert result.returncode == 1, result.stderr
    assert "reconciler.yaml:2: state: a PostgreSQL state (postgresql://reconciler@db.example.com:5432/videos) " \
           "is not supported by this version of reconciler yet" in result.stderr + result.stdout  # doctor: stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert files(root) == before


def test_a_state_url_from_the_environment_is_refused_without_showing_its_password(tmp_path):
    root = project(tmp_path, "parallelism: 2\n")
    before = files(root)
    result = run(root, "plan", RECONCILER_STATE_URL="postgresql://team:s3cret@db.example.com/videos?password=s3cret")
    assert result.returncode == 1
    assert "RECONCILER_STATE_URL (environment): a PostgreSQL state (postgresql://team:***@db.example.com/videos)" \
        in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert files(root) == before


def test_an_unknown_state_backend_is_a_config_error(tmp_path):
    root = project(tmp_path, "state: mysql://db.example.com/videos\n")
    result = run(root, "status")
    assert result.returncode == 1
    assert "reconciler.yaml:1: state: unknown state backend 'mysql'" in result.stderr
    assert "Traceback" not in result.stderr and files(root) == {"specs", "specs/faq.yaml", "reconciler.yaml"}
