"""The S3 client library (boto3, 245 ms to import) is paid for only when outputs are in
a bucket and a bucket call is made: `validate`, `plan` and `status` never import it,
with local outputs or with ``outputs: s3://`` (a plan trusts the state: no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """\
defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, video_param: {template: yadi_01, background: 1}}
videos:
  faq/q1: {text: 你好}
"""


def imported(root: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "reconciler", "-C", str(root), *args],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.mark.parametrize("outputs", ["outputs", "s3://videos/launch"])
@pytest.mark.parametrize("command", [("validate",), ("plan",), ("status",), ("status", "--json")])
def test_validate_plan_and_status_never_import_boto3(tmp_path, outputs, command):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs/faq.yaml").write_text(SPEC)
    (tmp_path / "reconciler.yaml").write_text(f"outputs: {outputs}\n")
    log = imported(tmp_path, *command)
    assert "boto3" not in log and "botocore" not in log
