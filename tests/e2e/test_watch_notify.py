"""`reconciler watch` sending webhooks, end to end: a watch process against `reconciler
sim`, a local receiver on 127.0.0.1. A spec added while it runs is rendered and the
receiver hears `finished` in the configured (DingTalk) shape; a reconcile over budget
is refused, logged once and notified once, however many cycles look at it again."""

from __future__ import annotations

import os
import signal

from tests.e2e.support import UNISOUND_SPEC
from tests.watch.helpers import Watch
from tests.webhook import Receiver

CONFIG = """\
parallelism: 4
budget: {max_renders: 2}
notify:
  - {url_env: WATCH_HOOK, format: dingtalk, on: [finished, budget]}
"""


def write(project, name: str, videos: dict[str, str]) -> None:
    """A Unisound spec file, replaced whole (as an editor saves): never seen half-written."""
    body = "\n".join(f"  {a}:\n    text: \"{t}\"" for a, t in videos.items())
    path = project.root / "specs" / name
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_text(UNISOUND_SPEC.format(videos=body), encoding="utf-8")
    os.replace(tmp, path)


def test_watch_notifies_finished_and_a_budget_refusal_once(project, sim):
    (project.root / "reconciler.yaml").write_text(CONFIG)
    (project.root / "specs").mkdir()
    write(project, "a.yaml", {"uni/a": "一二三"})
    receiver = Receiver()
    w = Watch(project.root, project.env(WATCH_HOOK=receiver.url), "--interval", "1")
    try:
        first = receiver.wait_for(1, timeout=30)
        assert len(first) == 1 and set(first[0]) == {"msgtype", "text"} and first[0]["msgtype"] == "text"
        assert first[0]["text"]["content"].startswith("reconciler: uni/a finished (task ")

        # a spec added while watch runs: rendered, and heard of
        write(project, "b.yaml", {"uni/b": "四五六"})
        second = receiver.wait_for(2, timeout=30)
        assert second[1]["text"]["content"].startswith("reconciler: uni/b finished (task ")

        # three new renders at once: over budget.max_renders 2, refused (nothing sent)
        creates = len(sim.calls("create"))
        write(project, "c.yaml", {"uni/c1": "七", "uni/c2": "八", "uni/c3": "九"})
        refused = w.wait_event("over_budget")
        assert refused["level"] == "error" and "3 renders > budget.max_renders 2" in refused["message"]
        third = receiver.wait_for(3, timeout=30)
        assert third[2] == {"msgtype": "text", "text": {"content": (
            "reconciler: budget: nothing done: the plan is over budget: 3 renders > budget.max_renders 2")}}

        # more cycles see the same refusal (a file broken then fixed, and the 1 s full re-checks):
        # once spec_fixed is logged, the cycle of the broken file has come and gone
        (project.root / "specs/d.yaml").write_text("videos:\n  uni/d: [oops\n", encoding="utf-8")
        w.wait_event("spec_error")
        (project.root / "specs/d.yaml").write_text("videos: {}\n", encoding="utf-8")
        w.wait_event("spec_fixed")

        # back within budget: rendered and heard of; the refusal was said once only
        write(project, "c.yaml", {"uni/c1": "七"})
        bodies = receiver.wait_for(4, timeout=30)
        assert bodies[3]["text"]["content"].startswith("reconciler: uni/c1 finished (task ")
        assert len(sim.calls("create")) == creates + 1
        assert len(w.events("over_budget")) == 1
        assert sum("budget" in b["text"]["content"] for b in receiver.bodies) == 1
        assert w.stop() == 0
        assert receiver.url not in "".join(w.raw) and "s3cr3t" not in "".join(w.raw)
    finally:
        w.stop(signal.SIGKILL)
        receiver.stop()
