"""A state in PostgreSQL without psycopg, or outputs in a bucket without boto3, is a
one-line error naming the pip extra to install (built from ``reconciler.DISTRIBUTION``),
never a ``ModuleNotFoundError`` traceback. The missing module is simulated: a
``sitecustomize`` on ``PYTHONPATH`` makes importing it fail, as an install without the
extra would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import DISTRIBUTION

CLI = str(Path(sys.executable).with_name("reconciler"))


def run_without(tmp_path: Path, module: str, root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None  # import fails\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "AWS_"))}
    return subprocess.run([CLI, "-C", str(root), *args], capture_output=True, text=True, timeout=60,
                          env={**base, "PYTHONPATH": str(blocker), **env})


@pytest.mark.parametrize("command", [("plan",), ("status",), ("apply", "--auto-approve"), ("refresh",)])
def test_a_postgresql_state_without_psycopg_names_the_extra(tmp_path, command):
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("state: postgresql://team@127.0.0.1:1/videos\n")
    result = run_without(tmp_path, "psycopg", root, *command)
    assert result.returncode == 1
    assert f"pip install '{DISTRIBUTION}[postgresql]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_without_psycopg_reports_it_in_the_state_check(tmp_path):
    import json

    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("state: postgresql://team@127.0.0.1:1/videos\n")
    result = run_without(tmp_path, "psycopg", root, "doctor", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    found = {c["name"]: c for c in json.loads(result.stdout)}
    assert f"pip install '{DISTRIBUTION}[postgresql]'" in found["state"]["detail"]


def test_a_bucket_without_boto3_names_the_extra(tmp_path):
    import json

    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("outputs: s3://videos/team\n")
    result = run_without(tmp_path, "boto3", root, "doctor", "--json",
                         AWS_ACCESS_KEY_ID="key", AWS_SECRET_ACCESS_KEY="secret-key")
    assert "Traceback" not in result.stderr
    found = {c["name"]: c for c in json.loads(result.stdout)}
    assert found["outputs bucket"]["status"] == "error"
    assert f"pip install '{DISTRIBUTION}[s3]'" in found["outputs bucket"]["detail"]
