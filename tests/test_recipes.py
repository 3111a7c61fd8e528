"""The team recipes in the repository parse and say what the README promises: a
pre-commit hook running `reconciler validate` (and the README's snippet that uses it),
a CI workflow that installs this project's distribution, plans as a PR comment and
applies on merge with the state from a secret; and every install line names this
project's distribution ("reconciler" on PyPI is an unrelated project); and CI (`.ci/run`)
running the README's test command exactly."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from reconciler import DISTRIBUTION, __version__

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_pre_commit_hook_runs_validate():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    assert hook["entry"] == "reconciler validate" and hook["pass_filenames"] is False


def test_the_readme_shows_the_pre_commit_config_using_the_hook():
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "repos:" in b]
    (config,) = blocks
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for repo in config["repos"] for h in repo["hooks"]] == ["reconciler-validate"]
    assert "reconciler-validate" in {h["id"] for h in hooks}


def test_every_install_line_names_this_distribution_or_the_checkout():
    lines = [line for path in (ROOT / "README.md", ROOT / "examples" / "github-actions.yml")
             for line in path.read_text(encoding="utf-8").splitlines() if re.search(r"pip install\b", line)]
    assert lines
    for line in lines:
        installs = line.split("pip install", 1)[1].split("#")[0]
        assert DISTRIBUTION in installs or re.search(r"-e '?\.", installs), line


def test_example_workflow_plans_on_pull_requests_and_applies_on_main():
    flow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text(encoding="utf-8"))
    assert flow["env"]["RECONCILER_STATE_URL"] == "${{ secrets.RECONCILER_STATE_URL }}"
    plan_steps = " ".join(str(s.get("run", "")) for s in flow["jobs"]["plan"]["steps"])
    assert "reconciler validate" in plan_steps and "reconciler plan --markdown" in plan_steps
    assert flow["jobs"]["plan"]["permissions"]["pull-requests"] == "write"
    for job in ("plan", "apply"):  # both extras, one release, its pins
        (install,) = [s["run"] for s in flow["jobs"][job]["steps"] if "pip install" in str(s.get("run"))]
        assert install == (f"pip install -c .github/reconciler-constraints.txt "
                           f"'{DISTRIBUTION}[postgresql,s3]=={__version__}'")
    apply_steps = [s.get("run") for s in flow["jobs"]["apply"]["steps"]]
    assert "reconciler apply --auto-approve" in apply_steps
    assert "refs/heads/main" in flow["jobs"]["apply"]["if"]


def test_ci_runs_the_readme_test_command_verbatim_on_parallel_workers():
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    command = blocks[1]  # "Run the tests:"
    assert re.search(r"pytest -n [2-9]$", command), command  # pytest-xdist: the suite mostly waits on subprocesses
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
