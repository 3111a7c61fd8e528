"""Notifications end to end: `reconciler apply` against `reconciler sim`, with a
webhook receiver on 127.0.0.1. A working webhook hears of the finished renders in one
message; one that answers 500 changes nothing of the apply, one that hangs does not hold
it up (the apply ends while the webhook still holds the request), and neither URL
appears anywhere."""

from __future__ import annotations

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


def test_a_hanging_webhook_never_holds_up_the_apply(project, sim):
    """The webhook takes the message and never finishes its answer (it trickles bytes, so
    no client timeout fires) until the test releases it, which it does only after the
    apply has ended: the apply must finish, exit 0, while the webhook still holds the
    request. An apply that waited for the webhook would never end (pytest's timeout)."""
    project.write_specs(unisound={"uni/a": "一二三", "uni/b": "四五六"})
    (project.root / "reconciler.yaml").write_text(CONFIG)
    receiver = Receiver("hang")
    try:
        hooked = project.apply(TEAM_HOOK=receiver.url)
        assert hooked.returncode == 0, hooked.stdout + hooked.stderr
        assert "2 finished" in hooked.stdout
        assert len(receiver.bodies) == 1 and receiver.answered == 0  # held from before the end to after it
        assert " finished (task " in receiver.bodies[0]["content"]["text"]
        assert "$TEAM_HOOK" in hooked.stderr and "did not answer in time" in hooked.stderr
        assert receiver.url not in hooked.stdout + hooked.stderr and "s3cr3t" not in hooked.stdout + hooked.stderr
        assert (project.root / "outputs/uni/a.mp4").is_file() and (project.root / "outputs/uni/b.mp4").is_file()
    finally:
        receiver.release()
        receiver.stop()


def test_a_failing_webhook_never_fails_the_apply(project, sim):
    project.write_specs(unisound={"uni/a": "一二三"})
    (project.root / "reconciler.yaml").write_text(CONFIG)
    receiver = Receiver("fail")
    try:
        hooked = project.apply(TEAM_HOOK=receiver.url)
        assert hooked.returncode == 0, hooked.stdout + hooked.stderr
        assert "1 finished" in hooked.stdout
        assert receiver.bodies  # it was asked, and said 500
        assert "$TEAM_HOOK" in hooked.stderr and receiver.url not in hooked.stdout + hooked.stderr
        assert "s3cr3t" not in hooked.stdout + hooked.stderr
    finally:
        receiver.stop()
