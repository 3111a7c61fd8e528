"""The state store and its lock: what a crash, a retry or a second writer leaves behind."""

from __future__ import annotations

import dataclasses

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.errors import LockHeldError, StateError
from reconciler.model import DesiredVideo, Status
from reconciler.state.sqlite import SCHEMA_VERSION, StateLock, StateStore


def video(address="launch/intro", fingerprint="fp1", **kw) -> DesiredVideo:
    return DesiredVideo(address=address, provider=kw.pop("provider", "xingyun"), request={"look_name": "A"},
                        fingerprint=fingerprint, spec_file=kw.pop("spec_file", "specs/launch.yaml"), **kw)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "state" / "reconciler.db"


@pytest.fixture
def store(db):
    s = StateStore(db)
    yield s
    s.close()


def finish(store: StateStore, v: DesiredVideo, task: str) -> None:
    """A full successful render of ``v``: intent, answer, finished poll, download."""
    attempt = store.begin_attempt(v, holder="test")
    store.attempt_submitted(v.address, attempt, task)
    store.record_task(v.address, task, Status.FINISHED, video_url=f"https://cdn/{task}.mp4",
                      finished_at="2026-01-01T00:00:00+00:00")
    store.record_output(v.address, task, f"outputs/{v.address}.mp4", "sha-" + task, 100)


def test_intent_is_recorded_before_the_call(store):
    attempt = store.begin_attempt(video(labels={"owner": "support"}), holder="apply pid 1")
    rec = store.get("launch/intro")
    assert attempt == 1
    assert rec.status is Status.PENDING and rec.task_id is None and rec.attempt == 1
    assert rec.request == {"look_name": "A"} and rec.labels == {"owner": "support"}
    [row] = store.attempts("launch/intro")
    assert row["status"] == "pending" and row["holder"] == "apply pid 1" and row["intent_at"]


def test_submitted_then_finished_then_published(store):
    v = video()
    attempt = store.begin_attempt(v, holder="t")
    store.attempt_submitted(v.address, attempt, "135")
    rec = store.get(v.address)
    assert rec.status is Status.RENDERING and rec.task_id == "135" and rec.submitted_at
    assert store.record_task(v.address, "135", Status.FINISHED, video_url="https://cdn/v.mp4") is True
    store.record_output(v.address, "135", "outputs/launch/intro.mp4", "abc", 1234)
    rec = store.get(v.address)
    assert rec.status is Status.FINISHED and rec.video_url == "https://cdn/v.mp4"
    assert (rec.output_file, rec.output_sha256, rec.output_bytes) == ("outputs/launch/intro.mp4", "abc", 1234)
    assert rec.output_fingerprint == "fp1" and rec.output_task_id == "135" and rec.has_output
    assert rec.finished_at  # filled in when the vendor gave no time


def test_failed_create_is_recorded_with_its_error(store):
    attempt = store.begin_attempt(video(), holder="t")
    store.attempt_failed("launch/intro", attempt, "30005 create failed")
    rec = store.get("launch/intro")
    assert rec.status is Status.FAILED and rec.error == "30005 create failed"
    assert store.attempts("launch/intro")[0]["status"] == "failed"


def test_not_sent_first_attempt_forgets_the_video(store):
    attempt = store.begin_attempt(video(), holder="t")
    store.attempt_not_sent("launch/intro", attempt, "connection refused")
    assert store.recorded() == {}
    assert store.attempts("launch/intro")[0]["status"] == "not_sent"


def test_not_sent_retry_restores_the_previous_attempt(store):
    finish(store, video(), "135")
    before = store.get("launch/intro")
    changed = dataclasses.replace(video(fingerprint="fp2"), request={"look_name": "B"}, labels={"x": "y"})
    attempt = store.begin_attempt(changed, holder="t")
    assert store.get("launch/intro").status is Status.PENDING
    store.attempt_not_sent("launch/intro", attempt, "connection refused")
    rec = store.get("launch/intro")
    assert (rec.status, rec.task_id, rec.fingerprint, rec.attempt) == (Status.FINISHED, "135", "fp1", 1)
    assert (rec.request, rec.video_url, rec.labels) == (before.request, before.video_url, before.labels)
    assert rec.output_file == "outputs/launch/intro.mp4" and rec.has_output


def test_recover_turns_a_dead_writers_intent_into_unknown(store, db):
    store.begin_attempt(video(), holder="apply pid 999")
    store.close()  # the writer dies between intent and answer
    other = StateStore(db)
    try:
        assert other.recover() == ["launch/intro"]
        rec = other.get("launch/intro")
        assert rec.status is Status.UNKNOWN and "paid for" in rec.error
        assert other.attempts("launch/intro")[0]["status"] == "unknown"
    finally:
        other.close()


def test_a_superseded_tasks_poll_writes_nothing_to_the_video(store):
    finish(store, video(), "old")
    attempt = store.begin_attempt(video(fingerprint="fp2"), holder="t")
    store.attempt_submitted("launch/intro", attempt, "new")
    before = store.get("launch/intro")
    assert store.record_task("launch/intro", "old", Status.CANCELLED, error="late answer") is False
    assert store.get("launch/intro") == before
    first = store.attempts("launch/intro")[0]
    assert first["task_id"] == "old" and first["status"] == "cancelled"


def test_replace_keeps_the_old_output_published_until_the_new_one_lands(store):
    finish(store, video(), "old")
    attempt = store.begin_attempt(video(fingerprint="fp2"), holder="t")
    store.attempt_submitted("launch/intro", attempt, "new")
    rec = store.get("launch/intro")
    assert rec.status is Status.RENDERING and rec.task_id == "new" and rec.fingerprint == "fp2"
    assert rec.output_task_id == "old" and rec.output_fingerprint == "fp1" and rec.has_output
    with pytest.raises(StateError):
        store.record_output("launch/intro", "old", "outputs/x.mp4", "s", 1)  # not the current task
    store.record_task("launch/intro", "new", Status.FINISHED)
    store.record_output("launch/intro", "new", "outputs/launch/intro.mp4", "sha-new", 200)
    rec = store.get("launch/intro")
    assert (rec.output_task_id, rec.output_fingerprint, rec.output_sha256) == ("new", "fp2", "sha-new")


def test_lost_output_is_no_longer_published(store):
    finish(store, video(), "1")
    store.mark_output_lost("launch/intro", "one-shot download failed")
    rec = store.get("launch/intro")
    assert rec.output_lost and not rec.has_output and rec.error == "one-shot download failed"


def test_update_metadata_and_remove(store):
    finish(store, video(), "1")
    store.update_metadata("launch/intro", labels={"owner": "sales"}, prevent_destroy=True, spec_file="specs/b.yaml")
    rec = store.get("launch/intro")
    assert (rec.labels, rec.prevent_destroy, rec.spec_file) == ({"owner": "sales"}, True, "specs/b.yaml")
    store.remove("launch/intro")
    assert store.recorded() == {}
    assert store.attempts("launch/intro")[0]["outcome"] == "deleted"  # history is kept


def test_generation_counts_writes_but_not_opens(store, db):
    assert store.generation() == 0
    finish(store, video(), "1")
    after = store.generation()
    assert after == 4  # intent, answer, poll, output: one each
    assert store.recover() == [] and store.generation() == after  # nothing to recover: no change
    store.close()
    reopened = StateStore(db)
    assert reopened.generation() == after
    reopened.close()
    reader = StateStore.open_readonly(db)
    assert reader.generation() == after and set(reader.recorded()) == {"launch/intro"}
    reader.close()


def test_readonly_open_of_a_missing_state_creates_nothing(tmp_path):
    path = tmp_path / "state" / "reconciler.db"
    reader = StateStore.open_readonly(path)
    assert reader.recorded() == {} and reader.generation() == 0 and reader.get("x") is None
    reader.close()
    assert list(tmp_path.iterdir()) == []


def test_readonly_store_refuses_writes(store, db):
    store.close()
    reader = StateStore.open_readonly(db)
    with pytest.raises(StateError):
        reader.begin_attempt(video(), holder="t")
    reader.close()


def test_readonly_open_works_with_odd_characters_in_the_path(tmp_path):
    path = tmp_path / "my #1 project?" / "reconciler.db"
    writer = StateStore(path)
    finish(writer, video(), "1")
    writer.close()
    reader = StateStore.open_readonly(path)
    assert set(reader.recorded()) == {"launch/intro"}
    reader.close()


def test_a_newer_schema_is_refused(store, db):
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="newer reconciler"):
        StateStore.open_readonly(db)
    with pytest.raises(StateError, match="newer reconciler"):
        StateStore(db)


def test_a_corrupt_state_file_is_a_state_error(tmp_path):
    path = tmp_path / "reconciler.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="cannot read the state database"):
        StateStore.open_readonly(path)


# -- the lock ----------------------------------------------------------------------------


def test_second_acquire_fails_naming_the_holder(db):
    first = StateLock(db).acquire("apply")
    try:
        with pytest.raises(LockHeldError) as excinfo:
            StateLock(db).acquire("refresh")
        message = str(excinfo.value)
        assert f"pid {os.getpid()}" in message and "(apply, since" in message
    finally:
        first.release()
    again = StateLock(db).acquire("refresh")  # released cleanly: free, nothing taken over
    assert again.taken_over is None
    again.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from reconciler.state.sqlite import StateLock
    StateLock(Path(sys.argv[1])).acquire("watch")
    print("locked", flush=True)
    time.sleep(60)
""")


def test_a_dead_holders_lock_is_taken_over_and_named(db):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeldError, match=f"pid {child.pid} .*watch"):
            StateLock(db).acquire("apply")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        lock = StateLock(db).acquire("apply")
        try:
            assert lock.taken_over is not None
            assert lock.taken_over.pid == child.pid and lock.taken_over.command == "watch"
        finally:
            lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
