"""The money on the review page moves only when a render is paid (docs/budget.md): the
same paid history gives the same figures whatever order it was paid in, and nothing
that pays nothing (a refused or unknown create, an edit served from the render cache, a
delete, a `state forget`) changes the total, a vendor's figure or a video's figure.

The prices are decimal fractions, where float sums used to round a half cent either way
(a card said 0.34 and the top 0.35 for the same renders), and each render is priced at
the script its own attempt sent, never at what a video's row says later."""

from __future__ import annotations

import hashlib
from pathlib import Path

from reconciler.config import load_config
from reconciler.gallery import costs
from reconciler.state import store as state_store
from tests.gallery.support import BASE_MP4_BYTES, StateBuilder, desired

PRICES = """\
providers:
  unisound: {price: {per_render: 0.1, per_1000_chars: 0.3, currency: CNY}}
  xingyun: {price: {per_render: 0.7, per_1000_chars: 0.1, currency: CNY}}
"""


def _project(root: Path) -> StateBuilder:
    root.mkdir()
    (root / "reconciler.yaml").write_text(PRICES)
    return StateBuilder(root)


def _figures(root: Path):
    config = load_config(root)
    store = state_store.open_store(config, readonly=True)
    try:
        spent = costs.spent(config, store.recorded(), store.attempts())
    finally:
        store.close()
    return spent.total, spent.by_vendor, spent.per_video


def _script(n: int) -> str:
    return "字" * n


def test_the_same_renders_paid_in_another_order_cost_the_same(tmp_path):
    figures = []
    for name, order in (("one", (33, 58, 59)), ("two", (59, 58, 33))):
        state = _project(tmp_path / name)
        for n in order:  # three paid renders of one video, 150 characters in all: 0.3 + 0.045
            state.finished(desired("e/v", _script(n)))
        state.close()
        figures.append(_figures(tmp_path / name))
    assert figures[0] == figures[1]
    total, (xingyun, unisound), per_video = figures[0]
    assert per_video == {"e/v": "0.35 CNY"} and total == "0.35 CNY"  # 0.345 exactly: half up, once
    assert (unisound.renders, unisound.tts_chars, unisound.money) == (3, 150, "0.35 CNY")


def test_nothing_paid_changes_no_figure(tmp_path):
    root = tmp_path / "proj"
    state = _project(root)
    state.finished(desired("a/v", _script(33)))
    state.finished(desired("a/v", _script(58)))  # a/v's current script: 58 characters
    state.finished(desired("b/gone", _script(59)))
    state.finished(desired("c/forgot", _script(12), provider="xingyun"))
    state.finished(desired("d/kept", _script(7)))
    before = _figures(root)
    assert before[0] == "1.15 CNY"  # 0.1 x 4 + 157 x 0.0003, and 0.7 + 12 x 0.0001: 1.1483

    state.failed(desired("d/kept", _script(8)), "23907 quota exhausted")  # refused: a plan that paid nothing
    state.unknown(desired("e/new", _script(9)))  # maybe paid: not counted, as before
    # a/v edited to a script whose render the cache holds: served, no create sent
    cached = desired("a/v", _script(3))
    data = BASE_MP4_BYTES
    state.store.publish_cached(cached, {"task_id": "900", "sha256": hashlib.sha256(data).hexdigest(),
                                        "bytes": len(data)}, "outputs/a/v.mp4")
    state.store.remove("b/gone")  # deleted: paid for all the same
    state.store.forget(["c/forgot"])
    state.close()

    after = _figures(root)
    assert after[:2] == before[:2]  # the total, each vendor's renders, characters and money
    assert {a: m for a, m in after[2].items() if a in before[2]} == {
        a: m for a, m in before[2].items() if a in after[2]}
    assert after[2]["a/v"] == "0.23 CNY"  # its two paid renders, at the scripts they were sent with
