"""`reconciler watch --git-ref REF` end to end: a real git repository made by the test,
the real console script, the simulator over loopback. Commits add, edit and delete
videos; a working-tree edit and a branch switch of the working copy must render and
delete nothing; a broken commit deletes nothing and a fixed one after it carries on.

Each "nothing happened" is checked after a later commit to REF has been rendered: the
daemon has looked at REF (and at the working tree's state) since, so the absence is
real, not a race.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import XINGYUN_HEADER, tiny_pptx
from tests.watch.helpers import Project, assert_no_duplicate_renders, wait_until


def git(project: Project, *args: str, cwd=None) -> str:
    env = {**project.env, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    done = subprocess.run(["git", *args], cwd=cwd or project.root, env=env, capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout.strip()


def commit(project: Project, message: str, *paths: str, cwd=None) -> None:
    git(project, "add", "-A", "--", *(paths or ["."]), cwd=cwd)
    git(project, "commit", "-q", "-m", message, cwd=cwd)


@pytest.fixture
def repo(project):
    git(project, "init", "-q", "-b", "main")
    (project.root / ".gitignore").write_text("state/\noutputs/\n", encoding="utf-8")
    project.write("a.yaml", {"g/a": "第一版。"})
    commit(project, "first video")
    return project


def creates_of(project: Project, text: str) -> int:
    return sum(1 for e in project.sim.ledger() if e["kind"] == "create" and e["ok"] and text in str(e))


def test_follows_commits_never_the_working_tree(repo, tmp_path):
    project = repo
    w = project.watch("--git-ref", "main", "--interval", "60")
    wait_until(lambda: project.finished("g/a"), what="the committed video rendered")
    assert w.events("git_ref")[0]["commit"] == git(project, "rev-parse", "main")

    # a half-typed edit in the working tree, never committed: must not render
    project.write("a.yaml", {"g/a": "半截的", "g/junk": "没提交。"})
    # a commit that adds another file only (the edit of a.yaml stays uncommitted)
    project.write("b.yaml", {"g/b": "第二个。"})
    commit(project, "add b", "specs/b.yaml")
    wait_until(lambda: project.finished("g/a", "g/b"), what="the added video rendered")
    assert "g/junk" not in project.manifest()
    assert len(project.calls("create")) == 2  # g/a once, g/b once: nothing uncommitted

    # a committed edit: replaced
    task = project.manifest()["g/a"]["task_id"]
    project.write("a.yaml", {"g/a": "第二版。"})
    commit(project, "edit a", "specs/a.yaml")
    wait_until(lambda: project.finished("g/a") and project.manifest()["g/a"]["task_id"] != task,
               what="the edited video replaced")
    assert project.manifest()["g/a"]["spec_file"] == "specs/a.yaml"  # project-relative, never the snapshot

    # a committed delete
    git(project, "rm", "-q", "specs/b.yaml")
    git(project, "commit", "-q", "-m", "delete b")
    wait_until(lambda: "g/b" not in project.manifest(), what="the deleted video gone")

    # the working copy switches to a branch without a.yaml and with a new video: REF
    # (main) did not move, so nothing is rendered or deleted ...
    git(project, "checkout", "-q", "-b", "experiment")
    git(project, "rm", "-q", "specs/a.yaml")
    project.write("x.yaml", {"g/x": "实验。"})
    commit(project, "experiment")
    # ... which shows once main moves (committed from another worktree) and that is rendered
    other = tmp_path / "main-wt"
    git(project, "worktree", "add", "-q", str(other), "main")
    (other / "specs" / "c.yaml").write_text((project.root / "specs" / "x.yaml").read_text(encoding="utf-8")
                                            .replace("g/x", "g/c").replace("实验", "第三个"), encoding="utf-8")
    commit(project, "add c", "specs/c.yaml", cwd=other)
    wait_until(lambda: project.finished("g/c"), what="the video added on main rendered")
    assert set(project.manifest()) == {"g/a", "g/c"}
    assert w.events("deleted", "g/a") == [] and "g/x" not in project.manifest()
    assert creates_of(project, "实验") == 0 and creates_of(project, "半截") == 0
    assert w.stop() == 0
    assert_no_duplicate_renders(project)
    assert all(r["event"] != "unparsed" for r in w.records), w.raw


def test_broken_commit_deletes_nothing_and_a_fixed_one_carries_on(repo):
    project = repo
    project.write("b.yaml", {"g/b": "第二个。"})
    commit(project, "add b")
    w = project.watch("--git-ref", "main", "--interval", "60")
    wait_until(lambda: project.finished("g/a", "g/b"), what="initial renders")

    (project.root / "specs/a.yaml").write_text("videos:\n  g/a:\n    segment: [oops\n", encoding="utf-8")
    (project.root / "specs/b.yaml").unlink()
    commit(project, "broken a, b deleted")
    head = git(project, "rev-parse", "main")
    err = w.wait_event("spec_error")
    assert err["message"].startswith("specs/a.yaml:") and err["line"] > 0
    assert any(r["commit"] == head for r in w.events("git_ref"))  # the log names the commit
    wait_until(lambda: "g/b" not in project.manifest(), what="b (deleted, not broken) gone")
    assert "g/a" in project.manifest() and w.events("deleted", "g/a") == []

    task = project.manifest()["g/a"]["task_id"]
    project.write("a.yaml", {"g/a": "修好了。"})
    commit(project, "fix a")
    w.wait_event("spec_fixed")
    wait_until(lambda: project.finished("g/a") and project.manifest()["g/a"]["task_id"] != task,
               what="the fixed video rendered")
    assert w.stop() == 0
    assert_no_duplicate_renders(project)


def test_a_missing_ref_or_no_repository_is_a_clear_error(repo):
    project = repo

    def watch(ref: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project.root), "watch", "--git-ref", ref],
                              env=project.env, capture_output=True, text=True, timeout=30)

    missing = watch("no-such-branch")
    shutil.rmtree(project.root / ".git")
    no_repo = watch("main")
    for done, ref in ((missing, "no-such-branch"), (no_repo, "main")):
        assert done.returncode == 1, done.stderr
        assert f"--git-ref {ref}" in done.stderr and "Traceback" not in done.stderr
    assert "not inside a git repository" in no_repo.stderr
    assert project.sim.ledger() == [] and project.manifest() == {}


def test_a_deck_is_uploaded_as_committed_not_as_in_the_working_tree(project):
    git(project, "init", "-q", "-b", "main")
    (project.root / ".gitignore").write_text("state/\noutputs/\n", encoding="utf-8")
    (project.root / "decks").mkdir()
    (project.root / "decks/deck.pptx").write_bytes(tiny_pptx("As committed"))
    (project.root / "specs/deck.yaml").write_text(
        XINGYUN_HEADER + "  g/deck:\n    ppt_file: ../decks/deck.pptx\n", encoding="utf-8")
    commit(project, "a deck video")
    (project.root / "decks/deck.pptx").write_bytes(tiny_pptx("Being edited, not committed"))
    w = project.watch("--git-ref", "main", "--interval", "60")
    # the create is sent (the deck read is the committed one, whose sha256 was planned) and finishes
    wait_until(lambda: project.finished("g/deck"), what="the deck video rendered")
    assert len(project.calls("create")) == 1
    snapshots = sorted(p.name for p in (project.root / "state/git-ref").iterdir())
    assert snapshots == sorted([git(project, "rev-parse", "main"), "current"])  # only the current one kept
    assert w.stop() == 0


def test_when_ref_events_cannot_be_watched_the_poll_still_follows_the_ref(tmp_path, monkeypatch):
    """The ref watcher can fail (inotify limits, a file system without events); the
    `git rev-parse` poll is then what notices REF moving, and the failure is said once."""
    from reconciler.watch import gitref

    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}

    def git_in_repo(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()

    git_in_repo("init", "-q", "-b", "main")
    (root / "specs/a.yaml").write_text("videos: {}\n", encoding="utf-8")
    git_in_repo("add", "-A")
    git_in_repo("commit", "-q", "-m", "first")
    ref = gitref.GitRef(root, "main", tmp_path / "state")
    ref.snapshot()

    def cannot_watch(*args, **kwargs):
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(gitref.watchfiles, "awatch", cannot_watch)
    monkeypatch.setattr(gitref, "POLL", 0.05)

    async def scenario() -> list[str]:
        stop, poked, gave_up, errors = asyncio.Event(), asyncio.Event(), asyncio.Event(), []
        running = asyncio.create_task(ref.run(stop, poked.set, lambda msg: (errors.append(msg), gave_up.set())))
        await asyncio.wait_for(gave_up.wait(), 30)  # the watcher has stopped: only the poll is left
        (root / "specs/a.yaml").write_text("videos:\n  g/a: {}\n", encoding="utf-8")
        await asyncio.to_thread(git_in_repo, "commit", "-q", "-am", "second")
        await asyncio.wait_for(poked.wait(), 30)  # a guard against a hang, not a speed target
        moved = await asyncio.to_thread(ref.resolve)
        stop.set()
        await running
        assert moved == git_in_repo("rev-parse", "main") and moved != ref.commit  # the poke was the move
        return errors

    errors = asyncio.run(scenario())
    assert len(errors) == 1 and "inotify watch limit reached" in errors[0]
    assert "still polling `git rev-parse` every 0.05s" in errors[0]
