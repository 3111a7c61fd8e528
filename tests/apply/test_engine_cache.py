"""The engine keeps the plan's count of renders (issue 19 §1): a change the plan counted
as free is never paid for. The same content twice in one plan is rendered once, the
others held until that render's output is verified and then served from it; when it
fails, or no render of it is followed in this run, they are not paid for, and said. A
cache entry gone at apply time is not rendered in its place."""

from __future__ import annotations

import asyncio
import dataclasses

from reconciler.errors import PermanentError
from reconciler.model import Action, PlanOptions, Status
from reconciler.planning import planner
from tests.fakes import Rig, change, video


def twins(*addresses: str) -> dict:
    """Videos of one content (one fingerprint) under several addresses."""
    first = video(addresses[0], text="same")
    return {a: dataclasses.replace(first, address=a) for a in addresses}


def plan_of(desired: dict, rig: Rig):
    return planner.make_plan(desired, rig.store.recorded(), PlanOptions())


def test_the_same_content_twice_is_rendered_once_and_served_to_the_other(tmp_path):
    rig = Rig(tmp_path)
    rig.engine = rig.new_engine(parallelism=1)  # a held change must not hold the only slot
    p = plan_of(twins("a", "b", "c"), rig)
    assert p.renders == 1
    asyncio.run(rig.apply(p))
    assert len(rig.providers["xingyun"].kinds("submit")) == 1
    rec = rig.store.recorded()
    assert {a: rec[a].status for a in "abc"} == dict.fromkeys("abc", Status.FINISHED)
    files = [tmp_path / f"outputs/{a}.mp4" for a in "abc"]
    assert len({f.read_bytes() for f in files}) == 1 and len({f.stat().st_ino for f in files}) == 3
    assert rig.store.attempts("b") == [] and rig.engine.errors == {}


def test_when_the_one_render_is_refused_the_others_are_not_paid_and_said(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["xingyun"].submit_errors.append(PermanentError("refused", provider="xingyun", code=30001))
    asyncio.run(rig.apply(plan_of(twins("a", "b"), rig)))
    assert len(rig.providers["xingyun"].kinds("submit")) == 1
    assert "b" not in rig.store.recorded()
    assert "not rendered" in rig.engine.errors["b"] and "made for a" in rig.engine.errors["b"]


def test_without_waiting_the_others_are_released_not_paid(tmp_path):
    rig = Rig(tmp_path)
    asyncio.run(asyncio.wait_for(rig.apply(plan_of(twins("a", "b"), rig), wait=False), 10))
    assert len(rig.providers["xingyun"].kinds("submit")) == 1
    assert rig.store.get("a").status is Status.RENDERING and "b" not in rig.store.recorded()
    assert "not rendered" in rig.engine.errors["b"]


def test_a_change_counted_free_whose_entry_is_gone_is_not_rendered(tmp_path):
    rig = Rig(tmp_path)
    served = dataclasses.replace(change(Action.CREATE, video("a")), from_cache=True)  # the plan counted 0
    asyncio.run(rig.apply(planner.Plan((served,))))
    assert rig.providers["xingyun"].calls == []  # no create: nothing paid the plan did not count
    assert "not rendered" in rig.engine.errors["a"] and "run `reconciler plan`" in rig.engine.errors["a"]
    assert rig.store.recorded() == {}


def test_a_change_held_for_a_render_this_run_does_not_carry_out_is_released(tmp_path):
    """The watch's policy may hold the first back: the others do not wait for ever."""
    rig = Rig(tmp_path)
    p = plan_of(twins("a", "b"), rig)
    held = planner.Plan(tuple(c for c in p.changes if c.address != "a"))
    asyncio.run(asyncio.wait_for(rig.apply(held), 10))
    assert rig.providers["xingyun"].calls == [] and "not rendered" in rig.engine.errors["b"]
