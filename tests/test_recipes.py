"""The team recipes in the repository parse and say what the README promises: a
pre-commit hook running `reconciler validate`, and a CI workflow that plans as a
PR comment and applies on merge with the state from a secret; and CI (`.ci/run`) running
the README's test command exactly."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_pre_commit_hook_runs_validate():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    assert hook["entry"] == "reconciler validate" and hook["pass_filenames"] is False


def test_example_workflow_plans_on_pull_requests_and_applies_on_main():
    flow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text(encoding="utf-8"))
    assert flow["env"]["RECONCILER_STATE_URL"] == "${{ secrets.RECONCILER_STATE_URL }}"
    plan_steps = " ".join(str(s.get("run", "")) for s in flow["jobs"]["plan"]["steps"])
    assert "reconciler validate" in plan_steps and "reconciler plan --markdown" in plan_steps
    assert flow["jobs"]["plan"]["permissions"]["pull-requests"] == "write"
    apply_steps = [s.get("run") for s in flow["jobs"]["apply"]["steps"]]
    assert "reconciler apply --auto-approve" in apply_steps
    assert "refs/heads/main" in flow["jobs"]["apply"]["if"]


def test_ci_runs_the_readme_test_command_verbatim_on_parallel_workers():
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    command = blocks[1]  # "Run the tests:"
    assert re.search(r"pytest -n [2-9]$", command), command  # pytest-xdist: the suite mostly waits on subprocesses
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
