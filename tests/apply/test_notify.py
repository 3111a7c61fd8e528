"""Notifications against a local webhook receiver on 127.0.0.1: each format's body in
its vendor's documented shape, events gathered into one message, retries, and a
webhook that fails or hangs never holding up the run nor leaking its URL."""

from __future__ import annotations

import io

import pytest

from reconciler.apply import notify
from reconciler.apply.events import Event, Kind
from reconciler.config import Notify
from tests.webhook import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def notifier(receiver, fmt="json", on=("finished", "failed", "unknown", "stalled", "budget")):
    err = io.StringIO()
    n = notify.Notifier((Notify("HOOK", fmt, tuple(on)),), env={"HOOK": receiver.url}, stderr=err)
    return n, err


@pytest.mark.parametrize("fmt, shape", [
    ("feishu", lambda t: {"msg_type": "text", "content": {"text": t}}),
    ("dingtalk", lambda t: {"msgtype": "text", "text": {"content": t}}),
    ("wecom", lambda t: {"msgtype": "text", "text": {"content": t}}),
    ("slack", lambda t: {"text": t}),
])
def test_each_format_posts_its_documented_body(receiver, fmt, shape):
    n, _ = notifier(receiver, fmt)
    n.event(Event(Kind.FINISHED, "launch/intro", "xingyun", "42", "outputs/launch/intro.mp4"))
    n.close()
    assert receiver.wait_for(1) == [shape("reconciler: launch/intro finished (task 42): outputs/launch/intro.mp4")]


def test_events_arriving_together_are_one_message_and_only_chosen_ones(receiver):
    n, _ = notifier(receiver, "json", on=("failed",))
    for i in range(5):
        n.event(Event(Kind.FAILED, f"v/{i}", "unisound", str(i), "vendor said no"))
    n.event(Event(Kind.FINISHED, "v/ok", "unisound", "9"))  # not chosen
    n.event(Event(Kind.SUBMITTED, "v/x", "unisound", "10"))  # no notify event at all
    n.close()
    bodies = receiver.wait_for(1)
    assert len(bodies) == 1
    assert [e["address"] for e in bodies[0]["events"]] == [f"v/{i}" for i in range(5)]
    assert bodies[0]["text"].startswith("reconciler: 5 events\n- v/0 failed (task 0): vendor said no")


def test_a_failing_webhook_is_retried_briefly_then_dropped_without_its_url():
    receiver = Receiver("fail")
    try:
        n, err = notifier(receiver, "slack")
        n.budget("3 renders > budget.max_renders 2")
        n.close()
        assert len(receiver.wait_for(notify.TRIES)) == notify.TRIES
        assert "$HOOK failed (HTTP 500)" in err.getvalue()
        assert "s3cr3t" not in err.getvalue()
    finally:
        receiver.stop()


def test_a_hanging_webhook_never_holds_the_run():
    """The receiver holds the first post for as long as the test likes (no client read
    timeout fires); events keep being taken and ``close`` returns while it still holds it.
    A sender that posted from ``event`` or waited in ``close`` for the answer would hang
    here (until pytest's timeout) instead."""
    receiver = Receiver("hang")
    try:
        n, err = notifier(receiver)
        n.event(Event(Kind.UNKNOWN, "a", "xingyun", None, "no answer"))
        assert len(receiver.wait_for(1)) == 1  # the sender is now held by the webhook
        for i in range(100):
            n.event(Event(Kind.FAILED, f"v/{i}", "unisound", str(i), "vendor said no"))
        n.close(wait=0.2)
        assert receiver.answered == 0 and len(receiver.bodies) == 1  # still holding the first post
        assert "did not answer in time" in err.getvalue() and "s3cr3t" not in err.getvalue()
    finally:
        receiver.stop()


def test_an_unset_variable_is_named_and_nothing_is_started():
    err = io.StringIO()
    n = notify.Notifier((Notify("NOPE", "json"),), env={}, stderr=err)
    n.event(Event(Kind.FINISHED, "a"))
    n.close()
    assert "$NOPE is not set" in err.getvalue()


@pytest.mark.parametrize("url", ["https://hooks.example.com:443x/send", "https://hooks.example.com/a\x7fb",
                                 "hooks.example.com/send", "https://:443/send"])
def test_a_url_that_cannot_be_read_is_a_warning_naming_the_variable_and_nothing_is_started(url):
    err = io.StringIO()
    n = notify.Notifier((Notify("HOOK", "slack"),), env={"HOOK": url}, stderr=err)
    n.event(Event(Kind.FINISHED, "a"))
    n.close()
    assert "notify: $HOOK is not a usable webhook URL" in err.getvalue()
    assert "hooks.example.com" not in err.getvalue() and n._thread is None


def test_a_url_the_http_client_refuses_is_a_warning_not_a_dead_thread():
    err = io.StringIO()
    n = notify.Notifier((Notify("HOOK", "slack", ("budget",)),), env={"HOOK": "https://a..b/send"}, stderr=err)
    n.budget("over")
    n.close(wait=10)
    assert not n._thread.is_alive()
    assert "notify: the slack webhook in $HOOK failed (UnicodeError); message dropped" in err.getvalue()
