"""PyAV (FFmpeg's libraries) is loaded only when media is handled: importing the media
modules loads nothing of it, and `validate` and `plan` never import it."""

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


def loaded_modules(*args: str, cwd: Path | None = None) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True,
                            timeout=60, cwd=cwd, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_importing_the_media_modules_does_not_load_pyav():
    names = loaded_modules("-c", "import reconciler.media.verify, reconciler.media.poster, "
                                 "reconciler.media.join, reconciler.media.captions")
    assert "reconciler.media.join" in names
    assert not any(name == "av" or name.startswith("av.") for name in names)


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_never_import_pyav(tmp_path, command):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs/faq.yaml").write_text(SPEC)
    (tmp_path / "reconciler.yaml").write_text("outputs: outputs\n")
    names = loaded_modules("-m", "reconciler", "-C", str(tmp_path), command)
    assert "reconciler.specs.loader" in names or "reconciler.specs" in names  # the command did run
    assert not any(name == "av" or name.startswith("av.") for name in names)
