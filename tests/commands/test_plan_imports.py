"""What `reconciler plan` imports (issue 14: the team features cost a plain plan nothing).

Without a budget, prices or `--markdown`, a plan loads none of the budget, the
Markdown, the notifier or the gallery, nor Jinja for plain YAML specs on a warm spec
cache; each is imported only by what uses it. Checked in a fresh interpreter, the
way the console script runs, by reading ``sys.modules`` as it exits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import UNISOUND_HEADER

SPEC = UNISOUND_HEADER + "  uni/a:\n    text: 一二三\n"
TEAM_MODULES = ("reconciler.planning.budget", "reconciler.planning.markdown", "reconciler.apply.notify",
                "reconciler.gallery", "jinja2")

PROBE = """\
import atexit, sys
def loaded():
    print(" ".join(sorted(m for m in sys.modules if m.startswith({modules!r}))))
atexit.register(loaded)
sys.argv = ["reconciler", "-C", {root!r}, "plan", *{args!r}]
from reconciler.cli import main
main()
"""


def loaded_by_plan(root: Path, *args: str) -> set[str]:
    code = PROBE.format(modules=TEAM_MODULES, root=str(root), args=list(args))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return {m.split(".")[0] if m.startswith("jinja2") else m for m in done.stdout.splitlines()[-1].split()}


def test_a_plain_plan_imports_none_of_the_team_features(tmp_path):
    root = tmp_path / "proj"
    (root / "specs").mkdir(parents=True)
    (root / "specs/a.yaml").write_text(SPEC, encoding="utf-8")
    # notify is for apply and watch: configured, it still costs a plan nothing
    (root / "reconciler.yaml").write_text("notify:\n  - {url_env: TEAM_HOOK, format: slack}\n")
    loaded_by_plan(root)  # warms the spec cache
    assert loaded_by_plan(root) == set()

    # the probe sees them when they are used: a budget, prices and --markdown
    (root / "reconciler.yaml").write_text("budget: {max_renders: 5}\n"
                                          "providers:\n  unisound: {price: {per_render: 1}}\n")
    assert loaded_by_plan(root, "--markdown") == {"reconciler.planning.budget", "reconciler.planning.markdown"}
