"""`reconciler --version` names this project's distribution and its installed version:
the name to `pip install` ("reconciler" on PyPI is an unrelated project), never the
metadata of another package, and it still answers from a source tree never installed."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from reconciler import DISTRIBUTION, __version__
from reconciler.cli import cli

RECONCILER = Path(sys.executable).with_name("reconciler")


def test_version_names_the_distribution_and_its_installed_version():
    done = subprocess.run([RECONCILER, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert DISTRIBUTION == "avatar-video-reconciler"
    assert done.stdout == f"reconciler {importlib.metadata.version(DISTRIBUTION)} ({DISTRIBUTION})\n"


def test_version_without_installed_metadata_says_the_source_version(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output == f"reconciler {__version__} ({DISTRIBUTION})\n"
