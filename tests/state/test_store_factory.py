"""The one place that chooses a state backend, seen from the command line.

A `state` that cannot be served (an unknown backend, a PostgreSQL server out of reach, a
password written in reconciler.yaml) must be a clear error naming where it was set, exit
1, no traceback, and no state written. A password in ``RECONCILER_STATE_URL`` never
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


UNREACHABLE = "postgresql://reconciler@127.0.0.1:1/videos"  # loopback port 1: refused at once


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["status"], ["refresh"], ["watch"]])
def test_an_unreachable_postgresql_state_is_a_clear_error_and_no_state_is_written(tmp_path, command):
    root = project(tmp_path, f"parallelism: 2\nstate: {UNREACHABLE}\n")
    result = run(root, *command)
    assert result.returncode == 1, result.stderr
    assert f"cannot reach the PostgreSQL state {UNREACHABLE}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (root / "state" / "manifest.json").exists() and not (root / "outputs").exists()


def test_a_password_in_reconciler_yaml_is_a_config_error_that_does_not_show_it(tmp_path):
    root = project(tmp_path, "parallelism: 2\nstate: postgresql://team:s3cret@db.example.com/videos\n")
    before = files(root)
    result = run(root, "plan")
    assert result.returncode == 1
    assert "reconciler.yaml:2" in result.stderr and "holds a password" in result.stderr
    assert "PGPASSWORD" in result.stderr and "s3cret" not in result.stderr + result.stdout
    assert files(root) == before


def test_a_state_url_from_the_environment_never_shows_its_password(tmp_path):
    root = project(tmp_path, "parallelism: 2\n")
    result = run(root, "plan", RECONCILER_STATE_URL="postgresql://team:s3cret@127.0.0.1:1/videos?password=s3cret")
    assert result.returncode == 1
    assert "cannot reach the PostgreSQL state postgresql://team:***@127.0.0.1:1/videos" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_an_unknown_state_backend_is_a_config_error(tmp_path):
    root = project(tmp_path, "state: mysql://db.example.com/videos\n")
    result = run(root, "status")
    assert result.returncode == 1
    assert "reconciler.yaml:1: state: unknown state backend 'mysql'" in result.stderr
    assert "Traceback" not in result.stderr and files(root) == {"specs", "specs/faq.yaml", "reconciler.yaml"}
