"""`reconciler watch` end to end: the real console script as a subprocess, against the
simulator over loopback (started in this process), driven only by editing files and
sending signals, observed through the manifest, the sim's ledger and the JSON log.

Every wait polls something observable against a deadline; no fixed sleeps beyond
short poll intervals.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

from tests.watch.helpers import assert_no_duplicate_renders, wait_until


def test_add_edit_delete_follow_the_files(project):
    project.sim.set_faults({"render_seconds": 2.0})  # long enough to catch a render in flight
    project.write("keep.yaml", {"keep/a": "留下的视频。", "keep/b": "另一个。"}, provider="unisound")
    w = project.watch("--interval", "60")
    wait_until(lambda: project.finished("keep/a", "keep/b"), what="initial renders")

    # a new spec file in a new subfolder
    project.write("new/deep/clip.yaml", {"new/clip": "第一版。"})
    wait_until(lambda: project.finished("new/clip"), what="new video rendered")
    first = project.manifest()["new/clip"]
    assert (project.root / first["file"]).is_file()

    # edit its script: replaced (a new render, published when finished)
    project.write("new/deep/clip.yaml", {"new/clip": "第二版。"})
    wait_until(lambda: project.finished("new/clip") and project.manifest()["new/clip"]["task_id"] != first["task_id"],
               what="replacement rendered")
    assert w.events("plan", "new/clip")[-1]["action"] == "replace"

    # edit again, and delete the file while that render is still going: it is cancelled
    creates = len(project.calls("create"))
    project.write("new/deep/clip.yaml", {"new/clip": "第三版。"})
    wait_until(lambda: len(project.calls("create")) > creates, what="third create")
    task = w.wait_event("submitted", "new/clip", count=3)["task_id"]
    (project.root / "specs/new/deep/clip.yaml").unlink()
    w.wait_event("deleted", "new/clip")
    assert [e["task_id"] for e in project.calls("cancel")] == [task]
    wait_until(lambda: "new/clip" not in project.manifest(), what="gone from the manifest")
    assert not (project.root / "outputs/new/clip.mp4").exists()
    assert project.finished("keep/a", "keep/b")
    assert w.stop() == 0
    assert_no_duplicate_renders(project)
    assert all(r["event"] != "unparsed" for r in w.records), w.raw


def test_broken_spec_and_missing_folder_delete_nothing(project):
    project.write("a.yaml", {"a/1": "一。", "a/2": "二。"})
    project.write("b.yaml", {"b/1": "三。"}, provider="unisound")
    w = project.watch()
    wait_until(lambda: project.finished("a/1", "a/2", "b/1"), what="initial renders")

    # a.yaml stops parsing: logged with file:line, its videos stay; b.yaml goes on
    (project.root / "specs/a.yaml").write_text("videos:\n  a/1:\n    segment: [oops\n", encoding="utf-8")
    err = w.wait_event("spec_error")
    assert err["level"] == "error" and err["message"].startswith("specs/a.yaml:") and err["line"] > 0
    project.write("b.yaml", {"b/1": "三,改了。"}, provider="unisound")
    b_task = project.manifest()["b/1"]["task_id"]
    wait_until(lambda: project.finished("b/1") and project.manifest()["b/1"]["task_id"] != b_task,
               what="b replaced while a is broken")
    # fixed (with one edit): the daemon carries on from there
    project.write("a.yaml", {"a/1": "一。", "a/2": "二,改了。"})
    w.wait_event("spec_fixed")
    w.wait_event("submitted", "a/2", count=2)
    wait_until(lambda: project.finished("a/1", "a/2"), what="a/2 replaced")

    # the whole specs folder disappears: refused, nothing deleted
    shutil.rmtree(project.root / "specs")
    w.wait_event("plan_refused")
    time.sleep(1.5)  # longer than the delete settle time: a delete would have happened by now
    assert set(project.manifest()) == {"a/1", "a/2", "b/1"}
    assert w.events("deleted") == [] and project.calls("cancel") == []
    # the folder comes back (with one new file): watched again, the daemon carries on
    project.write("a.yaml", {"a/1": "一。", "a/2": "二,改了。"})
    project.write("b.yaml", {"b/1": "三,改了。"}, provider="unisound")
    project.write("c.yaml", {"c/1": "新的。"}, provider="unisound")
    wait_until(lambda: project.finished("c/1"), what="c rendered after the folder came back")
    assert w.stop() == 0

    # restarted with a.yaml broken from the start (no last good version): state is kept
    (project.root / "specs/a.yaml").write_text("videos: [\n", encoding="utf-8")
    w2 = project.watch()
    w2.wait_event("spec_error")
    creates = len(project.calls("create"))
    project.write("d.yaml", {"d/1": "又一个。"}, provider="unisound")
    wait_until(lambda: project.finished("d/1"), what="d rendered while a is broken")
    time.sleep(1.2)  # longer than the delete settle time
    assert set(project.manifest()) == {"a/1", "a/2", "b/1", "c/1", "d/1"}
    assert w2.events("deleted") == [] and w2.events("plan", "a/1") == []
    assert len(project.calls("create")) == creates + 1
    assert w2.stop() == 0
    assert_no_duplicate_renders(project)


def test_sigterm_mid_render_then_restart_finishes_without_duplicates(project):
    project.sim.set_faults({"render_seconds": 3.0})
    project.write("x.yaml", {"x/1": "一。", "x/2": "二。"})
    project.write("u.yaml", {"u/1": "三。"}, provider="unisound")
    w = project.watch()
    wait_until(lambda: len(project.calls("create")) == 3, what="three creates")
    started = time.monotonic()
    assert w.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 15  # it does not wait for the 3 s renders (asserted below); generous under load
    assert w.events("stop")[-1]["message"].startswith("stopped")
    assert not project.finished("x/1") and not project.finished("u/1")

    w2 = project.watch()
    w2.wait_event("tracking", count=3)
    wait_until(lambda: project.finished("x/1", "x/2", "u/1"), timeout=20, what="renders finished after restart")
    assert len(project.calls("create")) == 3
    assert_no_duplicate_renders(project)
    assert w2.stop(signal.SIGINT) == 0


def test_second_watcher_and_apply_fail_fast_naming_the_holder(project):
    project.write("a.yaml", {"a/1": "一。"})
    first = project.watch()
    first.wait_event("start")
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project.root), "watch"],
                            capture_output=True, text=True, env=project.env, timeout=30)
    assert second.returncode == 1
    assert time.monotonic() - started < 10
    assert f"pid {first.proc.pid}" in second.stderr and "watch" in second.stderr
    apply = subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project.root), "apply", "--auto-approve"],
                           capture_output=True, text=True, env=project.env, timeout=30)
    assert apply.returncode == 1 and f"pid {first.proc.pid}" in apply.stderr
    assert first.stop() == 0


def test_a_renamed_address_is_served_from_the_render_cache(project):
    """docs/cache.md in the daemon: renaming a video's address while watch runs pays no
    render; the new address gets the cached output, the old one is deleted."""
    project.write("a.yaml", {"old/name": "缓存里的视频。"}, provider="unisound")
    w = project.watch("--interval", "60")
    wait_until(lambda: project.finished("old/name"), what="the first render")
    first = project.manifest()["old/name"]

    project.write("a.yaml", {"new/name": "缓存里的视频。"}, provider="unisound")
    wait_until(lambda: project.finished("new/name") and "old/name" not in project.manifest(),
               what="the renamed video published and the old address deleted")
    assert len(project.calls("create")) == 1  # no render paid for the new address
    assert "from the render cache: no render" in w.events("plan", "new/name")[-1]["message"]
    renamed = project.manifest()["new/name"]
    assert renamed["sha256"] == first["sha256"] and (project.root / renamed["file"]).is_file()
    assert not (project.root / first["file"]).exists()
    assert w.stop() == 0
