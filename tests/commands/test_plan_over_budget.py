"""A plan over `budget:` (docs/budget.md) is refused, but first shown: `plan`, `plan --json`
and `apply` print what would have been rendered, then the refusal on stderr, exit 1.
`plan --json` keeps stdout one JSON document (the figures over budget in its estimate);
`apply` never asks and sends nothing, even with `yes` waiting on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reconciler.commands.apply import PROMPT
from tests.commands.helpers import ADDRESSES, run

BUDGET = "budget: {max_renders: 1}\nproviders: {xingyun: {endpoint: sim}, unisound: {endpoint: sim}}\n"
REFUSAL = "3 renders > budget.max_renders 1"


@pytest.fixture
def over(project):
    (project / "reconciler.yaml").write_text(BUDGET)
    return project


def test_plan_prints_the_plan_then_refuses(over):
    result = run(over, "plan", "--out", "p.plan")
    assert result.returncode == 1
    assert "Plan: 3 to create, 0 to replace" in result.stdout
    assert all(address in result.stdout for address in ADDRESSES)
    assert REFUSAL in result.stderr and "Nothing was sent" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (over / "p.plan").exists()  # refused: shown, never saved


def test_plan_json_is_still_the_whole_document_on_stdout(over):
    result = run(over, "plan", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)  # stdout stays parseable: the refusal is on stderr
    assert [c["address"] for c in doc["changes"]] == ADDRESSES
    assert doc["estimate"]["renders"] == 3 and doc["estimate"]["over_budget"] == [REFUSAL]
    assert REFUSAL in result.stderr and "Error" not in result.stdout


def test_an_allowed_plan_over_budget_says_which_figure(over):
    result = run(over, "plan", "--json", "--allow-over-budget")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["estimate"]["over_budget"] == [REFUSAL]


def test_apply_prints_the_plan_and_the_refusal_never_asks_or_sends(over):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_"))}
    env.update(COLUMNS="200", XINGYUN_APP_ID="a", XINGYUN_APP_SECRET="s", UNISOUND_APPKEY="a", UNISOUND_SECRET="s")
    result = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(over), "apply"], input="yes\n",
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "Plan: 3 to create, 0 to replace" in result.stdout
    assert PROMPT.strip() not in result.stdout  # never asked
    assert REFUSAL in result.stderr
    status = run(over, "status", "--json")
    assert json.loads(status.stdout)["videos"] == {}  # nothing sent, nothing recorded
