"""`apply` and `refresh` as library calls (in-process, `endpoint: sim` in a thread):
the approval question, the lock, and the summary's exit codes."""

from __future__ import annotations

import io
import json
import os

import pytest

from reconciler.cli import Project
from reconciler.commands import apply, refresh
from reconciler.errors import LockHeldError
from reconciler.planning.request import Request
from reconciler.providers import local_sim
from reconciler.state.sqlite import StateLock
from tests.helpers import FAST_FIRST_POLL

SPEC = """\
defaults: {provider: unisound, speech_param: {vcn: xuanxuan-plus}, video_param: {template: yadi_01, background: 1}}
videos:
  faq/a: {text: 你好}
  faq/b: {text: "SIM_FAIL please"}
"""


@pytest.fixture
def proj(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("XINGYUN_", "UNISOUND_", "RECONCILER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RECONCILER_SIM_RENDER_SECONDS", "0.2")
    for name, value in FAST_FIRST_POLL.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "reconciler.yaml").write_text("providers: {xingyun: {endpoint: sim}, unisound: {endpoint: sim}}\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs/faq.yaml").write_text(SPEC)
    yield tmp_path
    local_sim.stop_all()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _apply(root, **options) -> int:
    return apply.run(Project(root), Request(), **options)


def test_on_a_terminal_only_yes_applies(proj, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert _apply(proj) == 1
    out = capsys.readouterr().out
    assert "Apply cancelled." in out
    assert not (proj / "state/manifest.json").exists()

    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "yes")
    assert _apply(proj) == 1  # faq/b fails at the vendor (SIM_FAIL): exit 1, named
    assert asked == ["Do you want to perform these actions? Only 'yes' will be accepted: "]
    out = capsys.readouterr().out
    assert "Failed:" in out and "faq/b" in out and "2 created" in out
    videos = json.loads((proj / "state/manifest.json").read_text())["videos"]
    assert videos["faq/a"]["status"] == "finished" and videos["faq/b"]["status"] == "failed"


def test_a_held_lock_stops_apply_and_refresh_naming_the_holder(proj):
    lock = StateLock(proj / "state/reconciler.db").acquire("watch")
    try:
        for run in (lambda: _apply(proj, auto_approve=True), lambda: refresh.run(Project(proj))):
            with pytest.raises(LockHeldError, match=f"pid {os.getpid()} .*watch"):
                run()
    finally:
        lock.release()


def test_taking_over_a_dead_holders_lock_is_reported(proj, capsys):
    (proj / "state").mkdir()
    (proj / "state/reconciler.db.lock").write_text(json.dumps(
        {"pid": 999999, "host": "h", "command": "apply", "since": "2026-01-01T00:00:00+00:00"}))
    assert refresh.run(Project(proj)) == 0
    err = capsys.readouterr().err
    assert "took over the lock left by pid 999999 (apply" in err and "no longer running" in err


def test_no_wait_exits_zero_once_submitted_and_says_what_next(proj, capsys):
    (proj / "specs/faq.yaml").write_text(SPEC.replace('  faq/b: {text: "SIM_FAIL please"}\n', ""))
    assert _apply(proj, auto_approve=True, no_wait=True) == 0
    out = capsys.readouterr().out
    assert "Submitted:" in out and "reconciler refresh" in out
