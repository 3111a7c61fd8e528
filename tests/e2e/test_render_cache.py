"""The render cache end to end (docs/cache.md, issue 11): what was rendered once is
never paid for again while its output is cached. Each case counts paid creates in the
sim's ledger: the second time costs none, and the published file is the right video."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from tests.e2e.support import XINGYUN_SPEC, assert_consistent, on_both_backends

INTRO = "欢迎来到发布会"
EDITED = "欢迎来到新品发布会"


def write(project, videos: dict[str, str]) -> None:
    """Xingyun videos {address: text}, all with the same ``video_name``: content alone
    decides the render fingerprint, as when a person renames an address."""
    specs = project.root / "specs"
    specs.mkdir(exist_ok=True)
    for old in specs.iterdir():
        old.unlink()
    lines = []
    for address, text in videos.items():
        lines += [f"  {address}:", "    video_name: launch", "    segment:", f"      - text: {text}"]
    (specs / "xingyun.yaml").write_text(XINGYUN_SPEC.format(videos="\n".join(lines)))


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def applied(project, *args: str):
    result = project.apply(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def sha(project, address: str) -> str:
    return hashlib.sha256((project.root / f"outputs/{address}.mp4").read_bytes()).hexdigest()


@on_both_backends
def test_rename_costs_no_render_and_the_plan_says_so(project, sim):
    write(project, {"launch/intro": INTRO})
    applied(project)
    assert creates(sim) == 1
    first = sha(project, "launch/intro")

    write(project, {"launch/opening": INTRO})
    doc = project.plan_json()
    change = {c["address"]: c for c in doc["changes"]}
    assert change["launch/opening"]["action"] == "create" and change["launch/opening"]["renders"] == 0
    assert "from the render cache: no render" in change["launch/opening"]["reason"]
    assert change["launch/intro"]["renders"] == 0  # a delete renders nothing
    assert change["launch/opening"]["moved_from"] == "launch/intro"  # a rename: the pair names each other
    assert change["launch/intro"]["action"] == "delete" and change["launch/intro"]["moved_to"] == "launch/opening"
    assert doc["estimate"]["renders"] == 0
    human = project.run("plan")
    assert "Estimated cost: 0 renders" in human.stdout, human.stdout
    assert "launch/intro has moved to launch/opening (from the render cache: no render)" in human.stdout, human.stdout
    assert "+ launch/opening" not in human.stdout and "- launch/intro" not in human.stdout
    comment = project.run("plan", "--markdown").stdout
    assert "| `→` move | `launch/intro` → `launch/opening` |" in comment, comment

    result = applied(project)
    assert "from the render cache" in result.stderr
    assert creates(sim) == 1  # no second paid render
    assert sha(project, "launch/opening") == first
    assert not (project.root / "outputs/launch/intro.mp4").exists()
    assert project.manifest()["videos"]["launch/opening"]["status"] == "finished"
    assert_consistent(project)


@on_both_backends
def test_an_output_the_cache_could_not_keep_is_still_never_paid_for_again(project, sim):
    """Keeping the output in the cache failed (here a file blocks ``outputs/.cache``): the
    output is published and the failure said. Renamed later, the video costs no render:
    the published output is servable, and the next run keeps it in the cache first."""
    (project.root / "outputs").mkdir(exist_ok=True)
    (project.root / "outputs/.cache").write_text("not a folder")
    write(project, {"launch/intro": INTRO})
    first = applied(project)
    assert "could not keep outputs/launch/intro.mp4 in the render cache" in first.stdout + first.stderr
    published = sha(project, "launch/intro")
    (project.root / "outputs/.cache").unlink()

    write(project, {"launch/opening": INTRO})
    assert project.plan_json()["estimate"]["renders"] == 0
    result = applied(project)
    assert "from the render cache" in result.stderr
    assert creates(sim) == 1  # no second paid render
    assert sha(project, "launch/opening") == published
    assert_consistent(project)


@on_both_backends
def test_revert_after_new_render_and_delete_restore_are_free(project, sim):
    write(project, {"a": INTRO})
    applied(project)
    original = sha(project, "a")
    write(project, {"a": EDITED})
    applied(project)
    assert creates(sim) == 2
    write(project, {"a": INTRO})  # revert the edit
    applied(project)
    assert creates(sim) == 2 and sha(project, "a") == original

    write(project, {"b": EDITED})  # delete a (b keeps the mass-delete guard quiet)
    applied(project)
    assert creates(sim) == 2
    write(project, {"a": INTRO, "b": EDITED})  # restore a
    applied(project)
    assert creates(sim) == 2 and sha(project, "a") == original
    assert_consistent(project)


def test_identical_content_renders_once(project, sim):
    write(project, {"one": INTRO})
    applied(project)
    write(project, {"one": INTRO, "two": INTRO})
    assert project.plan_json()["estimate"]["renders"] == 0
    applied(project)
    assert creates(sim) == 1
    assert sha(project, "one") == sha(project, "two")
    assert_consistent(project)


def test_branch_switch_and_back_is_free(project, sim):
    main = {"x/a": INTRO, "x/b": "第二段"}
    branch = {"x/a": INTRO, "x/c": "只在分支上"}
    write(project, main)
    applied(project)
    write(project, branch)
    applied(project)
    assert creates(sim) == 3
    write(project, main)  # back: x/b was deleted, its render is cached
    applied(project)
    write(project, branch)  # and again: x/c is cached
    applied(project)
    assert creates(sim) == 3
    assert_consistent(project)


def test_a_lost_output_is_served_from_the_cache_but_a_forced_replace_is_paid(project, sim):
    project.write_specs(unisound={"uni/a": INTRO})  # one-shot download: a lost file is lost at the vendor
    applied(project)
    kept = sha(project, "uni/a")
    (project.root / "outputs/uni/a.mp4").unlink()
    doc = project.plan_json()
    (change,) = doc["changes"]
    assert change["action"] == "replace" and change["renders"] == 0, change
    applied(project)
    assert creates(sim) == 1 and sha(project, "uni/a") == kept
    applied(project, "--replace", "uni/a")  # the kept render is wrong: a new one (docs/commands.md)
    assert creates(sim) == 2 and sha(project, "uni/a") != kept
    assert_consistent(project)


def test_no_cache_renders_anyway(project, sim):
    write(project, {"a": INTRO})
    applied(project)
    write(project, {"b": INTRO})
    plan = json.loads(project.run("plan", "--json", "--no-cache").stdout)
    assert plan["estimate"]["renders"] == 1
    assert {c["address"]: c["renders"] for c in plan["changes"]} == {"a": 0, "b": 1}
    applied(project, "--no-cache")
    assert creates(sim) == 2
    assert_consistent(project)


def test_damaged_entry_is_dropped_and_not_rendered_until_a_plan_counts_it(project, sim):
    write(project, {"a": INTRO})
    applied(project)
    cached = list((project.root / "outputs/.cache").iterdir())
    assert len(cached) == 1
    write(project, {"b": INTRO})
    (project.root / "outputs/a.mp4").unlink()
    with open(cached[0], "r+b") as f:  # damage the bytes, same size: only a hash sees it
        f.seek(100)
        f.write(b"\0" * 16)
    result = project.apply()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not rendered" in result.stdout + result.stderr
    assert creates(sim) == 1  # the plan counted no render: none paid
    doc = project.plan_json()
    assert doc["estimate"]["renders"] == 1  # the next plan shows it
    applied(project)
    assert creates(sim) == 2
    assert_consistent(project)


def test_prune_removes_old_unused_entries_and_status_shows_the_size(project, sim):
    write(project, {"a": INTRO, "b": EDITED})
    applied(project)
    status = project.run("status")
    assert "Render cache: 2 cached renders" in status.stdout, status.stdout
    write(project, {"a": INTRO})
    applied(project)  # b deleted: its entry stays
    nothing = project.run("cache", "prune")
    assert nothing.returncode == 0 and "Pruned 0 cached renders" in nothing.stdout, nothing.stdout + nothing.stderr
    db = sqlite3.connect(project.root / "state/reconciler.db")
    db.execute("UPDATE cache SET used_at = '2000-01-01T00:00:00+00:00'")
    db.commit()
    db.close()
    size = project.recorded()["a"].output_bytes
    pruned = project.run("cache", "prune")
    assert pruned.returncode == 0
    assert "Pruned 1 cached render " in pruned.stdout and "freed" in pruned.stdout, pruned.stdout
    assert len(list((project.root / "outputs/.cache").iterdir())) == 1  # a's entry: in use
    assert size
    assert "Render cache: 1 cached render," in project.run("status").stdout
