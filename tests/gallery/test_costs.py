"""Money on the review page (docs/budget.md): with prices set, each video shows what its
paid renders cost and the top of the page what was spent so far, by vendor; without
prices, nothing about money."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.config import load_config
from reconciler.gallery import costs
from reconciler.state import store as state_store
from tests.gallery.support import StateBuilder, desired, run

# 1 per character makes the figures easy to read: a render costs 10 + its characters
PRICES = """\
providers:
  unisound: {price: {per_render: 10, per_1000_chars: 1000, currency: CNY}}
  xingyun: {price: {per_render: 2, currency: USD}}
"""


def make_history(root: Path) -> None:
    root.mkdir()
    (root / "reconciler.yaml").write_text(PRICES)
    state = StateBuilder(root)
    state.finished(desired("a/ok", "第<value>110</value>号"))  # 5 characters spoken: tags are not
    state.finished(desired("e/edited", "第一版"))  # 3 characters
    state.submitted(desired("e/edited", "第二版本呢"))  # 5 characters: each render at its own script
    state.failed(desired("c/bad", "坏了"), "vendor said no.")  # refused: not paid
    state.unknown(desired("d/maybe", "也许", provider="xingyun"))  # no answer: not counted as paid
    state.finished(desired("x/one", "幻灯片", provider="xingyun"))
    state.finished(desired("z/gone", "再见吧"))
    state.store.remove("z/gone")  # deleted: still paid for, at the script its attempt recorded
    state.close()


def _spent(root: Path) -> costs.Spent | None:
    config = load_config(root)
    store = state_store.open_store(config, readonly=True)
    try:
        return costs.spent(config, store.recorded(), store.attempts())
    finally:
        store.close()


def test_each_paid_render_is_priced_at_its_own_script(tmp_path):
    root = tmp_path / "proj"
    make_history(root)
    spent = _spent(root)
    assert spent.per_video == {"a/ok": "15.00 CNY", "e/edited": "28.00 CNY", "c/bad": "0.00 CNY",
                               "d/maybe": "0.00 USD", "x/one": "2.00 USD"}
    unisound, xingyun = sorted(spent.by_vendor, key=lambda v: v.provider)
    assert (unisound.renders, unisound.tts_chars, unisound.money, unisound.unknown_scripts) == (
        4, 16, "56.00 CNY", 0)  # z/gone: 13, its script read from its own attempt
    assert (xingyun.renders, xingyun.money, xingyun.unknown_scripts) == (1, "2.00 USD", 0)
    assert spent.total == "56.00 CNY + 2.00 USD"


def test_page_shows_the_total_and_each_videos_cost(tmp_path):
    root = tmp_path / "proj"
    make_history(root)
    result = run(root, "gallery")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("; spent so far 56.00 CNY + 2.00 USD.")
    html = (root / "site/index.html").read_text()
    top = re.search(r'<div class="spent" id="spent">(.*?)</div>', html).group(1)
    assert re.sub(r"<[^>]+>", "", top) == (
        "spent so far 56.00 CNY + 2.00 USD · Xingyun: 2.00 USD (1 render, 3 TTS characters) · Unisound: "
        "56.00 CNY (4 renders, 16 TTS characters)")
    cost = dict(re.findall(r'id="v-([^"]+)".*?<dd class="cost">([^<]*)</dd>', html, re.S))
    assert cost == {"c/bad": "0.00 CNY · 0 renders paid", "d/maybe": "0.00 USD · 0 renders paid (and 1 maybe paid, not counted)",
                    "e/edited": "28.00 CNY · 2 renders paid", "a/ok": "15.00 CNY · 1 render paid",
                    "x/one": "2.00 USD · 1 render paid"}


def test_only_priced_vendors_show_money_and_none_without_prices(tmp_path):
    root = tmp_path / "proj"
    make_history(root)
    (root / "reconciler.yaml").write_text("providers:\n  xingyun: {price: {per_render: 2, currency: USD}}\n")
    result = run(root, "gallery")
    assert result.returncode == 0, result.stderr
    html = root / "site/index.html"
    text = html.read_text()
    assert re.findall(r'<dd class="cost">([^<]*)</dd>', text) == ["0.00 USD · 0 renders paid (and 1 maybe paid, not counted)",
                                                                       "2.00 USD · 1 render paid"]
    assert "Unisound:" not in text and "CNY" not in text

    (root / "reconciler.yaml").write_text("parallelism: 2\n")
    assert _spent(root) is None
    result = run(root, "gallery")
    assert result.returncode == 0, result.stderr
    assert "spent" not in result.stdout
    text = html.read_text()
    assert 'id="spent"' not in text and 'class="cost"' not in text and "USD" not in text
