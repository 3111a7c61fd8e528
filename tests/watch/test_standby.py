"""`reconciler watch --standby` on a working tree (no `--git-ref`): it renders this
machine's uncommitted edits whenever it leads, so it says so at start, naming the
command that follows what the team committed; with `--git-ref` it says nothing of it."""

from __future__ import annotations

import subprocess

from tests.watch.helpers import Project, wait_until


def _git(project: Project, *args: str) -> None:
    env = {**project.env, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", *args], cwd=project.root, env=env, capture_output=True, timeout=30, check=True)


def _warnings(w) -> list[str]:
    return [r["message"] for r in w.events("standby") if r["level"] == "warning"]


def test_standby_on_the_working_tree_warns_at_start(project):
    project.write("a.yaml", {"g/a": "第一版。"})
    w = project.watch("--standby", "--interval", "60")
    wait_until(lambda: project.finished("g/a"), what="the video rendered")
    (said,) = _warnings(w)
    assert "uncommitted edits of this machine" in said
    assert "`reconciler watch --standby --git-ref origin/main`" in said
    assert w.stop() == 0


def test_standby_following_a_git_ref_does_not_warn(project):
    _git(project, "init", "-q", "-b", "main")
    (project.root / ".gitignore").write_text("state/\noutputs/\n", encoding="utf-8")
    project.write("a.yaml", {"g/a": "第一版。"})
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "first")
    w = project.watch("--standby", "--git-ref", "main", "--interval", "60")
    wait_until(lambda: project.finished("g/a"), what="the committed video rendered")
    assert w.stop() == 0
    assert _warnings(w) == []
    assert not any("uncommitted" in line for line in w.raw)
