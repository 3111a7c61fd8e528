"""The render cache's promises end to end (docs/cache.md and its clarifications, issue 19
§1): the plan is what you pay. Each case counts paid creates in the sim's ledger and
compares them with what the plan counted.

- a cached render and a published output never share an inode;
- an apply never pays for more renders than its plan counted (fresh plan, saved plan,
  watch): an entry gone or damaged at apply time is not rendered, and the next plan
  shows the render, its cost and the budget;
- a cache entry knows where its bytes are: a checkout of a shared state that cannot
  read them does not count them free;
- the same content twice in one plan costs one render;
- ``--replace ADDR`` is a paid render, counted in the plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal

import pytest

from tests.e2e.support import (
    XINGYUN_SPEC,
    Project,
    assert_consistent,
    database_url,
    on_both_backends,
    read_until,
    wait_until,
)

INTRO = "欢迎来到发布会"
EDITED = "欢迎来到新品发布会"


def write(project, videos: dict[str, str], extra: str = "") -> None:
    """Xingyun videos {address: text}, all with the same ``video_name``: content alone
    decides the render fingerprint. ``extra``: more lines of reconciler.yaml."""
    specs = project.root / "specs"
    shutil.rmtree(specs, ignore_errors=True)
    specs.mkdir()
    lines = []
    for address, text in videos.items():
        lines += [f"  {address}:", "    video_name: launch", "    segment:", f"      - text: {text}"]
    (specs / "xingyun.yaml").write_text(XINGYUN_SPEC.format(videos="\n".join(lines)))
    if extra:
        (project.root / "reconciler.yaml").write_text(f"parallelism: 4\n{extra}\n")


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project, *args: str):
    result = project.apply(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entries(project) -> list:
    return sorted((project.root / "outputs/.cache").glob("*.mp4"))


def renders(doc: dict) -> dict[str, int]:
    return {c["address"]: c["renders"] for c in doc["changes"]}


# -- a cached render and a published output never share an inode ------------------------

@on_both_backends
def test_overwriting_a_published_output_in_place_changes_no_other_video_and_no_cache_entry(project, sim):
    write(project, {"a": INTRO, "b": INTRO})
    applied(project)
    a, b = project.root / "outputs/a.mp4", project.root / "outputs/b.mp4"
    (entry,) = entries(project)
    kept = sha(entry)
    assert len({a.stat().st_ino, b.stat().st_ino, entry.stat().st_ino}) == 3
    assert a.stat().st_nlink == b.stat().st_nlink == entry.stat().st_nlink == 1

    with open(a, "r+b") as f:  # `cp new.mp4 outputs/a.mp4`: the same inode, other bytes
        f.seek(200)
        f.write(b"\xff" * 32)
    assert sha(b) == kept and sha(entry) == kept  # nothing else changed

    refreshed = project.run("refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "lost" not in refreshed.stdout + refreshed.stderr
    assert project.recorded()["b"].has_output and sha(b) == kept
    doc = project.plan_json()
    assert doc["estimate"]["renders"] == 0 and doc["summary"]["noop"] == 2, doc
    assert creates(sim) == 1
    assert_consistent(project)


# -- an apply never pays for more renders than its plan counted ---------------------------

def _restorable(project) -> None:
    """``a`` was rendered, then deleted (its entry kept): bringing it back is free."""
    write(project, {"a": INTRO, "b": EDITED})
    applied(project)
    write(project, {"b": EDITED})
    applied(project)
    assert creates(project.sim) == 2 and not (project.root / "outputs/a.mp4").exists()


@on_both_backends
def test_a_plan_after_the_cache_was_deleted_shows_the_render_its_cost_and_the_budget(project, sim):
    _restorable(project)
    write(project, {"a": INTRO, "b": EDITED}, extra="budget: {max_renders: 0}")
    assert renders(project.plan_json()) == {"a": 0, "b": 0}
    shutil.rmtree(project.root / "outputs/.cache")  # behind the tool's back

    plan = project.run("plan", "--json")
    assert plan.returncode == 1 and "1 renders > budget.max_renders 0" in plan.stderr, plan.stdout + plan.stderr
    over = project.apply()
    assert over.returncode == 1 and creates(sim) == 2, over.stdout + over.stderr

    write(project, {"a": INTRO, "b": EDITED}, extra="budget: {max_renders: 1}")
    doc = project.plan_json()
    assert renders(doc) == {"a": 1, "b": 0} and doc["estimate"]["renders"] == 1
    (a,) = [c for c in doc["changes"] if c["address"] == "a"]
    assert "render cache cannot serve it (cached file is missing)" in a["reason"]
    applied(project)
    assert creates(sim) == 3  # exactly what the plan counted
    assert_consistent(project)


@on_both_backends
def test_a_fresh_apply_whose_entry_is_damaged_pays_nothing_and_says_so(project, sim):
    _restorable(project)
    write(project, {"a": INTRO, "b": EDITED})
    (entry,) = [e for e in entries(project) if sha(e) != sha(project.root / "outputs/b.mp4")]
    with open(entry, "r+b") as f:  # same size: the plan's cheap look passes, apply's hash does not
        f.seek(100)
        f.write(b"\0" * 16)
    assert project.plan_json()["estimate"]["renders"] == 0
    result = project.apply()
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "not rendered" in out and "run `reconciler plan` to see the render and its cost" in out, out
    assert creates(sim) == 2
    assert "a" not in project.recorded()
    assert renders(project.plan_json()) == {"a": 1, "b": 0}  # the next plan shows it
    applied(project)
    assert creates(sim) == 3
    assert_consistent(project)


@on_both_backends
def test_a_saved_plan_whose_free_render_is_gone_is_not_carried_out(project, sim):
    _restorable(project)
    write(project, {"a": INTRO, "b": EDITED})
    saved = project.run("plan", "--out", "plan.json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    shutil.rmtree(project.root / "outputs/.cache")
    result = project.run("apply", "plan.json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stale" in result.stderr and "1 paid render(s) where the saved plan counted 0" in result.stderr, \
        result.stderr
    assert creates(sim) == 2 and "a" not in project.recorded()


def test_watch_pays_no_render_its_plan_did_not_count(project, sim):
    _restorable(project)
    write(project, {"b": EDITED}, extra="budget: {max_renders: 0}")
    (entry,) = [e for e in entries(project) if sha(e) != sha(project.root / "outputs/b.mp4")]
    with open(entry, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 16)
    watch = project.start("watch", "--interval", "0.5")
    try:
        read_until(watch.stderr, "watching")
        write(project, {"a": INTRO, "b": EDITED})
        read_until(watch.stderr, "not rendered")  # counted free, found damaged: not paid
        read_until(watch.stderr, "over budget")  # the next plan counts the render: the budget applies
        assert creates(sim) == 2
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.communicate(timeout=30)
    assert creates(sim) == 2


# -- a cache entry knows where its bytes are ---------------------------------------------

@pytest.fixture
def machines(tmp_path, sim, request):
    url = database_url(request, "postgresql")
    return Project(tmp_path / "a", sim, state_url=url), Project(tmp_path / "b", sim, state_url=url)


def test_a_checkout_does_not_count_another_checkouts_cache_entries_as_free(machines, sim):
    a, b = machines
    write(a, {"x": INTRO, "y": EDITED})
    applied(a)
    write(a, {"x": INTRO})
    applied(a)  # y deleted: its entry is kept in A's outputs folder
    assert creates(sim) == 2
    write(b, {"x": INTRO, "y": EDITED})
    write(a, {"x": INTRO, "y": EDITED})
    assert renders(a.plan_json())["y"] == 0  # A has the bytes
    doc = b.plan_json()
    assert renders(doc)["y"] == 1, doc  # B cannot read them
    store = b.store(readonly=False)
    try:  # an entry from before locations were recorded: B looks for its file, finds none
        with store._tx(bump=False) as cur:
            cur.execute("UPDATE cache SET location = NULL")
    finally:
        store.close()
    assert renders(b.plan_json())["y"] == 1
    result = b.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert creates(sim) == 3  # the one render B's plan counted, no more


# -- the same content twice in one plan costs one render ----------------------------------

@on_both_backends
def test_the_same_content_twice_in_one_plan_costs_one_render(project, sim):
    write(project, {"one": INTRO, "two": INTRO, "three": INTRO}, extra="budget: {max_renders: 1}")
    doc = project.plan_json()
    assert renders(doc) == {"one": 1, "three": 0, "two": 0} and doc["estimate"]["renders"] == 1
    result = applied(project)
    assert "from the render of one: no render" in result.stderr, result.stderr
    assert creates(sim) == 1
    one = sha(project.root / "outputs/one.mp4")
    assert sha(project.root / "outputs/two.mp4") == one == sha(project.root / "outputs/three.mp4")
    assert_consistent(project)


def test_watch_renders_the_same_content_twice_once(project, sim):
    write(project, {"b": EDITED})
    applied(project)
    watch = project.start("watch", "--interval", "0.5")
    try:
        read_until(watch.stderr, "watching")
        write(project, {"b": EDITED, "one": INTRO, "two": INTRO})

        def both_finished():
            try:
                videos = project.manifest()["videos"]
            except (OSError, ValueError):
                return False
            return all(videos.get(a, {}).get("status") == "finished" for a in ("one", "two"))

        wait_until(both_finished, timeout=60, what="both addresses finished")
        assert creates(sim) == 2  # b, then one render for one and two
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.communicate(timeout=30)
    assert sha(project.root / "outputs/one.mp4") == sha(project.root / "outputs/two.mp4")


def test_when_the_one_render_fails_the_others_are_not_paid_and_it_is_said(project, sim):
    write(project, {"one": INTRO, "two": INTRO})
    sim.faults({"queue": {"xingyun.create": ["error"]}})
    result = project.apply()
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "two" in out and "made for one" in out and "not rendered" in out, out
    assert creates(sim) == 0 and len(sim.calls("create")) == 1  # one create sent (refused), none for two
    assert renders(project.plan_json()) == {"one": 1, "two": 0}


# -- --replace forces a paid render ------------------------------------------------------

@on_both_backends
def test_replace_is_a_paid_render_counted_in_the_plan(project, sim):
    write(project, {"a": INTRO})
    applied(project)
    before = sha(project.root / "outputs/a.mp4")
    plan = project.run("plan", "--json", "--replace", "a")
    assert plan.returncode == 0, plan.stderr
    (change,) = json.loads(plan.stdout)["changes"]
    assert change["action"] == "replace" and change["renders"] == 1, change
    assert "render cache" not in change["reason"]
    result = applied(project, "--replace", "a")
    assert "from the render cache" not in result.stdout + result.stderr
    assert creates(sim) == 2 and sha(project.root / "outputs/a.mp4") != before
    assert len(entries(project)) == 1 and os.stat(entries(project)[0]).st_nlink == 1
    assert_consistent(project)
