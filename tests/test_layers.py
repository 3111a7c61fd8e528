"""The layers of HACKING.md hold: import-linter's contracts (``[tool.importlinter]`` in
pyproject.toml) run as part of ``pytest``, so an upward import fails the suite with
import-linter's report naming the import chain.

The contracts hold inside packages too (``*-inside``: the direction each package's
modules follow). The second test proves the contracts are live, not vacuous: on a copy
of the package with a planted upward import, one upward inside a package, a sim that
reaches into the rest and an unplaced new package, the same command fails naming each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the package under `root`, not the installed one
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_layers_hold():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_catch_an_upward_import_a_leaky_sim_and_an_unplaced_package(tmp_path):
    shutil.copytree(REPO / "reconciler", tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__", "*.mp4"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "reconciler/util/atomic.py", "a", encoding="utf-8") as f:
        f.write("\nfrom reconciler.commands import plan  # noqa: E402,F401\n")
    with open(tmp_path / "reconciler/planning/describe.py", "a", encoding="utf-8") as f:  # inside a package
        f.write("\nfrom reconciler.planning import view  # noqa: E402,F401\n")
    with open(tmp_path / "reconciler/sim/settings.py", "a", encoding="utf-8") as f:
        f.write("\nimport reconciler.config  # noqa: E402,F401\n")
    (tmp_path / "reconciler/extras").mkdir()
    (tmp_path / "reconciler/extras/__init__.py").write_text('"""Not placed in any layer."""\n')
    result = lint(tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "reconciler.util.atomic -> reconciler.commands.plan" in report
    assert "reconciler.sim.settings -> reconciler.config" in report
    assert "reconciler.planning.describe -> reconciler.planning.view" in report
    assert "reconciler.extras" in report
