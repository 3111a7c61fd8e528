"""Notifications end to end: `reconciler apply` against `reconciler sim`, with a
webhook receiver on 127.0.0.1. A working webhook hears of the finished renders in one
message; one that answers 500 or hangs changes neither the exit code nor (beyond the
bounded wait at the end) the wall time, and its URL appears nowhere."""

from __future__ import annotations

import time

import pytest

from reconciler.apply import notify
from tests.webhook import Receiver

CONFIG = "parallelism: 4\nnotify:\n  - {url_env: TEAM_HOOK, format: feishu, on: [finished, failed]}\n"


def test_finished_renders_are_posted_in_one_feishu_message(project, sim):
    receiver = Receiver()
    try:
        project.write_specs(unisound={"uni/a": "一二三", "uni/b": "四五六"})
        (project.root / "reconciler.yaml").write_text(CONFIG)
        result = project.apply(TEAM_HOOK=receiver.url)
        assert result.returncode == 0, result.stdout + result.stderr
        bodies = receiver.wait_for(1)
        texts = "\n".join(b["content"]["text"] for b in bodies)
        assert all(b["msg_type"] == "text" for b in bodies)
        assert "uni/a finished" in texts and "uni/b finished" in texts
        assert receiver.url not in result.stdout + result.stderr
    finally:
        receiver.stop()


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_broken_webhook_never_fails_the_apply(project, sim, mode):
    project.write_specs(unisound={"uni/a": "一二三"})
    (project.root / "reconciler.yaml").write_text(CONFIG)
    receiver = Receiver(mode)
    try:
        plain_started = time.monotonic()
        (project.root / "reconciler.yaml").write_text("parallelism: 4\n")
        plain = project.apply()
        plain_time = time.monotonic() - plain_started
        assert plain.returncode == 0, plain.stderr
        (project.root / "reconciler.yaml").write_text(CONFIG)
        hooked_started = time.monotonic()
        hooked = project.apply("--replace", "uni/a", TEAM_HOOK=receiver.url)
        hooked_time = time.monotonic() - hooked_started
        assert hooked.returncode == 0, hooked.stdout + hooked.stderr
        assert "1 finished" in hooked.stdout
        assert hooked_time < plain_time + notify.CLOSE_WAIT + 3.0  # bounded by CLOSE_WAIT, not by the tries (6 s+)
        assert "$TEAM_HOOK" in hooked.stderr and receiver.url not in hooked.stdout + hooked.stderr
        assert "s3cr3t" not in hooked.stdout + hooked.stderr
    finally:
        receiver.stop()
