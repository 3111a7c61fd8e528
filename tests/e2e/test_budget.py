"""The budget (docs/budget.md) and prices, end to end: the console script against
`reconciler sim`. Over budget, `plan` and `apply` exit 1 naming the figure and the limit
and send nothing; `--allow-over-budget` lets the plan through; prices turn the estimate
into money in the text plan, the JSON and the Markdown."""

from __future__ import annotations

import json

PRICED = """\
parallelism: 4
budget: {max_renders: 2, max_tts_chars: 100000}
providers:
  xingyun: {price: {per_render: 1.5, per_1000_chars: 0, currency: CNY}}
  unisound: {price: {per_render: 0.5, per_1000_chars: 200, currency: CNY}}
"""


def _configure(project, text: str = PRICED) -> None:
    (project.root / "reconciler.yaml").write_text(text)


def test_plan_over_budget_exits_1_naming_the_figure_and_the_limit(project, sim):
    project.standard_specs()  # 6 renders
    _configure(project)
    out = project.root / "over.plan"
    result = project.run("plan", "--out", str(out))
    assert result.returncode == 1
    assert "6 renders > budget.max_renders 2" in result.stderr
    assert "--allow-over-budget" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()  # refused before the plan file is written
    assert sim.ledger() == []


def test_apply_over_budget_sends_nothing_then_allowed_renders(project, sim):
    project.standard_specs()
    _configure(project)
    refused = project.apply()
    assert refused.returncode == 1
    assert "6 renders > budget.max_renders 2" in refused.stderr
    assert sim.calls("create") == [] and sim.ledger() == []
    assert project.recorded() == {}

    allowed = project.apply("--allow-over-budget")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "6 finished" in allowed.stdout


def test_a_saved_plan_carries_allow_over_budget(project, sim):
    project.standard_specs()
    _configure(project)
    assert project.run("plan", "--allow-over-budget", "--out", "p.plan").returncode == 0
    refused = project.run("apply", "p.plan", "--allow-over-budget")
    assert refused.returncode == 1 and "cannot be used with a saved plan" in refused.stderr
    done = project.run("apply", "p.plan")
    assert done.returncode == 0, done.stdout + done.stderr


def test_prices_turn_the_estimate_into_money(project, sim):
    project.write_specs(xingyun={"xy/a": "一二三"}, unisound={"uni/b": "四五六七八"})
    _configure(project)
    text = project.run("plan")
    assert text.returncode == 0, text.stderr
    # xingyun 1 render x 1.5; unisound 1 render x 0.5 + 5 chars x 200/1000 = 1.0
    assert "Estimated cost: 2 renders, " in text.stdout
    doc = json.loads(project.run("plan", "--json").stdout)
    assert doc["estimate"]["renders"] == 2
    tts = doc["estimate"]["tts_chars"]
    expected = round(1.5 + 0.5 + project_unisound_chars(doc) * 0.2, 2)
    assert doc["estimate"]["price"] == {"CNY": expected}
    assert f"About {expected:,.2f} CNY." in text.stdout
    assert "Budget: 2 renders, 100,000 TTS characters per plan." in text.stdout
    md = project.run("plan", "--markdown").stdout
    assert "| estimate | this plan | budget |" in md
    assert "| renders | 2 | 2 |" in md
    assert f"| TTS characters | {tts:,} | 100,000 |" in md
    assert f"| price | {expected:,.2f} CNY | |" in md


def project_unisound_chars(doc) -> int:
    """The Unisound part of the TTS estimate: the plan's total minus Xingyun's segments
    (一二三 and the fixed second segment 同期将举行多场论坛。)."""
    return doc["estimate"]["tts_chars"] - len("一二三") - len("同期将举行多场论坛。")


def test_no_budget_no_price_plan_shows_no_money(project, sim):
    project.write_specs(unisound={"uni/b": "四五六七八"})
    text = project.run("plan")
    assert "About" not in text.stdout and "Budget" not in text.stdout
    assert "price" not in json.loads(project.run("plan", "--json").stdout)["estimate"]


def test_markdown_of_an_allowed_over_budget_plan_says_so(project, sim):
    project.standard_specs()
    _configure(project)
    md = project.run("plan", "--markdown", "--allow-over-budget")
    assert md.returncode == 0, md.stderr
    assert "⚠️ **Over budget** (allowed with `--allow-over-budget`): 6 renders > budget.max_renders 2." in md.stdout
