"""The contract of a state store: what every backend must do, whatever keeps the state.

Each test drives a backend only through ``reconciler.state.store`` (the factory, the
``Store`` and ``WriterLock`` protocols), never through SQL, so a new backend (the
PostgreSQL store of docs/team.md) joins by adding one entry to ``BACKENDS``: a function
that points a project at a fresh, empty state of that backend, and one that makes that
state claim a newer schema. It holds SQLite and PostgreSQL (a real server the suite
starts itself, ``tests/pgserver.py``; each test gets a database of its own), and that
PostgreSQL reached through PgBouncer in transaction mode (``tests/pgbouncer.py``; skipped
where it is not installed), where no session state survives from one transaction to the next.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pytest

from reconciler.config import Config, load_config
from reconciler.errors import LockHeldError, StateError
from reconciler.model import DesiredVideo, Status
from reconciler.state import manifest
from reconciler.state import store as state_store
from reconciler.state.store import Store


@dataclass
class Backend:
    """How the suite reaches one kind of backend."""

    prepare: Callable[[Path, pytest.MonkeyPatch], None]  # make the project at root use a fresh state
    claim_newer_schema: Callable[[Config], None]  # make the state say it was written by a newer reconciler


def _sqlite_prepare(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(state_store.STATE_URL_VAR, raising=False)  # the default: state/reconciler.db


def _sqlite_newer_schema(config: Config) -> None:
    with sqlite3.connect(config.state_path) as conn:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'schema_version'")
    conn.close()


def _postgres_prepare(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import pgserver

    monkeypatch.setenv(state_store.STATE_URL_VAR, pgserver.fresh_database())  # schema `reconciler` of a new DB
    monkeypatch.setenv("RECONCILER_TEST_LEASE_SECONDS", "3")  # a dead holder's lease expires quickly


def _pgbouncer_prepare(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import pgbouncer

    monkeypatch.setenv(state_store.STATE_URL_VAR, pgbouncer.fresh_database())
    monkeypatch.setenv("RECONCILER_TEST_LEASE_SECONDS", "3")


def _postgres_newer_schema(config: Config) -> None:
    import psycopg

    with psycopg.connect(state_store.backend(config).url, autocommit=True) as conn:
        conn.execute(f"UPDATE {config.file.state_schema}.meta SET value = (value::int + 1)::text "
                     f"WHERE key = 'schema_version'")


BACKENDS = {"sqlite": Backend(_sqlite_prepare, _sqlite_newer_schema),
            "postgresql": Backend(_postgres_prepare, _postgres_newer_schema),
            "pgbouncer": Backend(_pgbouncer_prepare, _postgres_newer_schema)}


class Harness:
    """A project whose state is one backend's; opens stores through the factory and
    closes whatever a test left open."""

    def __init__(self, root: Path, backend: Backend):
        self.root = root
        self.backend = backend
        self.config = load_config(root)
        self._open: list[Store] = []

    def open(self, *, readonly: bool = False) -> Store:
        store = state_store.open_store(self.config, readonly=readonly)
        self._open.append(store)
        return store

    def lock(self):
        return state_store.writer_lock(self.config)

    def close_all(self) -> None:
        for store in self._open:
            store.close()


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        request.getfixturevalue("pg_server")
    elif request.param == "pgbouncer":
        request.getfixturevalue("pg_bouncer")
    root = tmp_path / "project"
    root.mkdir()
    backend = BACKENDS[request.param]
    backend.prepare(root, monkeypatch)
    harness = Harness(root, backend)
    yield harness
    harness.close_all()


@pytest.fixture
def store(store_factory) -> Store:
    return store_factory.open()


def video(address="launch/intro", fingerprint="fp1", **kw) -> DesiredVideo:
    return DesiredVideo(address=address, provider=kw.pop("provider", "xingyun"), request={"look_name": "A"},
                        fingerprint=fingerprint, spec_file=kw.pop("spec_file", "specs/launch.yaml"), **kw)


def finish(store: Store, v: DesiredVideo, task: str) -> None:
    """A whole successful render of ``v``: intent, answer, finished poll, download."""
    attempt = store.begin_attempt(v, holder="test")
    store.attempt_submitted(v.address, attempt, task)
    store.record_task(v.address, task, Status.FINISHED, video_url=f"https://cdn/{task}.mp4",
                      finished_at="2026-01-01T00:00:00+00:00")
    store.record_output(v.address, task, f"outputs/{v.address}.mp4", "sha-" + task, 100)


# -- intents and answers -------------------------------------------------------------------


def test_an_intent_is_recorded_before_the_call_and_the_answer_after_it(store):
    attempt = store.begin_attempt(video(labels={"owner": "support"}), holder="apply (pid 1)")
    rec = store.get("launch/intro")
    assert attempt == 1
    assert rec.status is Status.PENDING and rec.task_id is None and rec.attempt == 1
    assert rec.request == {"look_name": "A"} and rec.labels == {"owner": "support"}
    [row] = store.attempts("launch/intro")
    assert row["status"] == "pending" and row["holder"] == "apply (pid 1)" and row["intent_at"]
    store.attempt_submitted("launch/intro", attempt, "135")
    rec = store.get("launch/intro")
    assert rec.status is Status.RENDERING and rec.task_id == "135" and rec.submitted_at
    [row] = store.attempts("launch/intro")
    assert (row["status"], row["task_id"]) == ("rendering", "135")


def test_a_refused_create_and_a_lost_answer_are_recorded_as_such(store):
    refused = store.begin_attempt(video("a"), holder="t")
    store.attempt_failed("a", refused, "30005 create failed")
    lost = store.begin_attempt(video("b"), holder="t")
    store.attempt_failed("b", lost, "timed out after sending", status=Status.UNKNOWN)
    assert (store.get("a").status, store.get("a").error) == (Status.FAILED, "30005 create failed")
    assert store.get("b").status is Status.UNKNOWN
    assert [r["status"] for r in store.attempts()] == ["failed", "unknown"]


def test_a_create_that_never_left_is_forgotten(store):
    attempt = store.begin_attempt(video(), holder="t")
    store.attempt_not_sent("launch/intro", attempt, "connection refused")
    assert store.recorded() == {}
    assert store.attempts("launch/intro")[0]["status"] == "not_sent"


def test_a_retry_that_never_left_puts_the_previous_render_back(store):
    finish(store, video(), "135")
    before = store.get("launch/intro")
    attempt = store.begin_attempt(replace(video(fingerprint="fp2"), request={"look_name": "B"}, labels={"x": "y"}),
                                  holder="t")
    assert store.get("launch/intro").status is Status.PENDING
    store.attempt_not_sent("launch/intro", attempt, "connection refused")
    assert store.get("launch/intro") == before and before.has_output


def test_the_poll_of_a_superseded_task_changes_nothing_on_the_video(store):
    finish(store, video(), "old")
    attempt = store.begin_attempt(video(fingerprint="fp2"), holder="t")
    store.attempt_submitted("launch/intro", attempt, "new")
    before = store.get("launch/intro")
    assert store.record_task("launch/intro", "old", Status.CANCELLED, error="late answer") is False
    assert store.get("launch/intro") == before
    store.record_superseded("launch/intro", "old", "cancelled")
    old = next(a for a in store.attempts("launch/intro") if a["task_id"] == "old")
    assert (old["status"], old["outcome"]) == ("cancelled", "cancelled")


def test_a_replace_keeps_the_old_output_published_until_the_new_one_lands(store):
    finish(store, video(), "old")
    attempt = store.begin_attempt(video(fingerprint="fp2"), holder="t")
    store.attempt_submitted("launch/intro", attempt, "new")
    rec = store.get("launch/intro")
    assert (rec.task_id, rec.fingerprint, rec.output_task_id, rec.output_fingerprint) == ("new", "fp2", "old", "fp1")
    assert rec.status is Status.RENDERING and rec.has_output
    with pytest.raises(StateError):
        store.record_output("launch/intro", "old", "outputs/x.mp4", "s", 1)  # not the current task
    assert store.record_task("launch/intro", "new", Status.FINISHED, video_url="https://cdn/v.mp4") is True
    store.record_output("launch/intro", "new", "outputs/launch/intro.mp4", "sha-new", 200)
    rec = store.get("launch/intro")
    assert (rec.status, rec.output_task_id, rec.output_sha256, rec.output_bytes) == (
        Status.FINISHED, "new", "sha-new", 200)
    assert (rec.output_file, rec.output_fingerprint, rec.video_url) == (
        "outputs/launch/intro.mp4", "fp2", "https://cdn/v.mp4") and rec.has_output
    assert rec.finished_at  # filled in when the vendor gave no time


def test_a_lost_output_is_no_longer_published(store):
    finish(store, video(), "1")
    store.mark_output_lost("launch/intro", "one-shot download failed")
    rec = store.get("launch/intro")
    assert rec.output_lost and not rec.has_output and rec.error == "one-shot download failed"


def test_metadata_updates_and_a_delete_keeps_the_history(store):
    finish(store, video(), "1")
    store.update_metadata("launch/intro", labels={"owner": "sales"}, prevent_destroy=True, spec_file="specs/b.yaml")
    rec = store.get("launch/intro")
    assert (rec.labels, rec.prevent_destroy, rec.spec_file, rec.task_id) == (
        {"owner": "sales"}, True, "specs/b.yaml", "1")
    store.remove("launch/intro")
    assert store.recorded() == {} and store.get("launch/intro") is None
    [row] = store.attempts("launch/intro")
    assert (row["task_id"], row["status"], row["outcome"]) == ("1", "finished", "deleted")


# -- downloads (issue 9: adoption of a file renamed into place before its record) -----------------


def rendered(store: Store, fingerprint: str, task: str, address: str = "a") -> None:
    attempt = store.begin_attempt(video(address, fingerprint, provider="unisound"), holder="test")
    store.attempt_submitted(address, attempt, task)


def test_the_download_of_the_current_task_is_recorded_until_its_output_is(store):
    rendered(store, "fp1", "t1")
    prior = json.dumps([1, 2, 3])
    assert store.record_task("a", "t1", Status.FINISHED, video_url="u", downloading=True, download_prior=prior)
    assert store.download_started("a") == ("t1", prior)
    generation = store.generation()
    store.download_ended("a", "t1")
    assert store.download_started("a") is None and store.generation() == generation  # bookkeeping only
    store.record_task("a", "t1", Status.FINISHED, downloading=True, download_prior=None)
    store.record_output("a", "t1", "outputs/a.mp4", "sha", 10)
    assert store.download_started("a") is None


def test_a_lost_new_render_keeps_the_old_output_published(store):
    rendered(store, "fp1", "t1")
    store.record_output("a", "t1", "outputs/a.mp4", "sha1", 10)
    rendered(store, "fp2", "t2")
    store.record_task("a", "t2", Status.FINISHED, downloading=True)
    store.render_output_lost("a", "t2", "the single allowed download failed")
    r = store.get("a")
    assert r.has_output and (r.output_file, r.output_sha256, r.output_bytes) == ("outputs/a.mp4", "sha1", 10)
    assert r.status is Status.FAILED and r.task_id == "t2" and "single allowed" in r.error
    assert [a["status"] for a in store.attempts("a")] == ["rendering", "failed"]
    store.render_output_lost("a", "t1", "stale")  # not the current task: nothing written
    assert store.get("a") == r


def test_a_lost_first_render_is_an_output_lost(store):
    rendered(store, "fp1", "t1")
    store.record_task("a", "t1", Status.FINISHED, downloading=True)
    store.render_output_lost("a", "t1", "gone")
    r = store.get("a")
    assert r.output_lost and not r.has_output and r.status is Status.FINISHED


# -- generation and schema -------------------------------------------------------------------


def test_the_generation_counts_writes_but_not_opens_or_reads(store_factory, store):
    assert store.generation() == 0
    finish(store, video(), "1")
    after = store.generation()
    assert after == 4  # intent, answer, poll, output
    assert store.recover() == [] and store.generation() == after  # nothing to recover: no change
    store.close()
    assert store_factory.open().generation() == after
    recorded, generation = state_store.read_recorded(store_factory.config, recovered=True)
    assert generation == after and set(recorded) == {"launch/intro"}


def test_the_schema_version_is_kept_and_a_newer_one_is_refused(store_factory, store):
    version = store.schema_version()
    assert version >= 1
    store.close()
    assert store_factory.open(readonly=True).schema_version() == version
    store_factory.close_all()
    store_factory.backend.claim_newer_schema(store_factory.config)
    with pytest.raises(StateError, match="newer reconciler"):
        store_factory.open(readonly=True)
    with pytest.raises(StateError, match="newer reconciler"):
        store_factory.open()


def test_reading_a_missing_state_creates_nothing(store_factory):
    reader = store_factory.open(readonly=True)
    assert reader.recorded() == {} and reader.generation() == 0 and reader.get("x") is None
    assert reader.schema_version() == 0 and reader.attempts() == []
    assert state_store.read_recorded(store_factory.config, recovered=True) == ({}, 0)
    assert not store_factory.lock().held()
    assert list(store_factory.root.iterdir()) == []


def test_a_read_only_store_refuses_writes(store_factory, store):
    finish(store, video(), "1")
    reader = store_factory.open(readonly=True)
    with pytest.raises(StateError):
        reader.begin_attempt(video("other"), holder="t")
    assert set(store.recorded()) == {"launch/intro"}


# -- a dead writer's intents ----------------------------------------------------------------------


def test_a_dead_writers_intent_reads_as_unknown_and_recover_makes_it_so(store_factory, store):
    store.begin_attempt(video(), holder="apply (pid 999)")
    generation = store.generation()
    store.close()  # the writer dies between intent and answer
    as_planned, _ = state_store.read_recorded(store_factory.config, recovered=True)
    as_is, _ = state_store.read_recorded(store_factory.config, recovered=False)
    assert as_planned["launch/intro"].status is Status.UNKNOWN and "paid for" in as_planned["launch/intro"].error
    assert as_is["launch/intro"].status is Status.PENDING  # reading changed nothing
    other = store_factory.open()
    assert other.generation() == generation
    assert other.recover() == ["launch/intro"]
    assert other.get("launch/intro") == as_planned["launch/intro"]  # what plan showed is what apply gets
    assert other.attempts("launch/intro")[0]["status"] == "unknown"
    assert other.recover() == []  # once


# -- a person's repairs: state import, state forget (docs/team.md) --------------------------------


def test_an_import_settles_an_unknown_create_as_the_task_the_person_names(store):
    lost = store.begin_attempt(video(fingerprint="fp-old"), holder="apply (pid 1)")
    store.attempt_failed("launch/intro", lost, "timed out after sending", status=Status.UNKNOWN)
    generation = store.generation()
    attempt = store.import_task(video(fingerprint="fp-new", labels={"owner": "ops"}), "135", Status.RENDERING,
                                holder="state import (pid 2)")
    rec = store.get("launch/intro")
    assert attempt == 2 and store.generation() > generation  # a saved plan made before is stale
    assert (rec.status, rec.task_id, rec.attempt, rec.fingerprint, rec.error) == (
        Status.RENDERING, "135", 2, "fp-new", None)
    assert rec.labels == {"owner": "ops"} and rec.submitted_at and not rec.has_output
    unknown, imported = store.attempts("launch/intro")
    assert (unknown["status"], unknown["task_id"]) == ("unknown", None)  # the history keeps what was not known
    assert (imported["status"], imported["task_id"], imported["fingerprint"], imported["holder"]) == (
        "rendering", "135", "fp-new", "state import (pid 2)")
    # from then on it is followed like any render: polled, downloaded, published
    assert store.record_task("launch/intro", "135", Status.FINISHED, video_url="https://cdn/135.mp4") is True
    store.record_output("launch/intro", "135", "outputs/launch/intro.mp4", "sha-135", 100)
    rec = store.get("launch/intro")
    assert rec.has_output and (rec.output_task_id, rec.output_fingerprint) == ("135", "fp-new")


def test_an_imported_finished_task_keeps_the_old_output_published_until_its_own_lands(store):
    finish(store, video(), "old")
    store.mark_output_lost("launch/intro", "gone")
    store.import_task(video(), "new", Status.FINISHED, holder="state import (pid 2)",
                      video_url="https://cdn/new.mp4", finished_at="2026-01-02T00:00:00+00:00")
    rec = store.get("launch/intro")
    assert (rec.status, rec.task_id, rec.video_url, rec.finished_at) == (
        Status.FINISHED, "new", "https://cdn/new.mp4", "2026-01-02T00:00:00+00:00")
    assert rec.output_task_id == "old"  # not downloaded yet: the engine collects it
    assert store.download_started("launch/intro") is None


def test_an_import_into_an_address_never_recorded_creates_its_row(store):
    store.import_task(video("faq/q1", provider="unisound"), "u-7", Status.RENDERING, holder="state import (pid 2)")
    rec = store.get("faq/q1")
    assert (rec.provider, rec.status, rec.task_id, rec.attempt, rec.output_lost) == (
        "unisound", Status.RENDERING, "u-7", 1, False)
    [row] = store.attempts("faq/q1")
    assert row["previous"] is None and row["status"] == "rendering"


def test_forget_drops_videos_all_or_none_and_keeps_their_history_and_cache(store):
    finish(store, video("a"), "1")
    finish(store, video("b", fingerprint="fp-b"), "2")
    store.cache_put("fp-b", provider="xingyun", task_id="2", sha256="sha-2", size=100)
    before, generation = store.recorded(), store.generation()
    with pytest.raises(StateError, match="not in the state: nope"):
        store.forget(["a", "nope"])
    assert store.recorded() == before and store.generation() == generation  # nothing changed
    store.forget(["b", "a"])
    assert store.recorded() == {} and store.generation() > generation
    assert [(r["address"], r["task_id"], r["outcome"]) for r in store.attempts()] == [
        ("a", "1", "forgotten"), ("b", "2", "forgotten")]
    assert store.cached_fingerprints() == frozenset({"fp-b"})  # served again by the next plan, no render


# -- the manifest snapshot -------------------------------------------------------------------------


def test_a_reader_sees_every_committed_write_and_the_manifest_shows_the_published_output(store_factory, store):
    finish(store, video(), "old")
    attempt = store.begin_attempt(video(fingerprint="fp2"), holder="t")
    store.attempt_submitted("launch/intro", attempt, "new")  # a replace under way; the writer stays open
    reader = store_factory.open(readonly=True)
    assert reader.recorded() == store.recorded() and reader.generation() == store.generation()
    entry = json.loads(manifest.render_manifest(reader.recorded()))["videos"]["launch/intro"]
    assert (entry["file"], entry["sha256"], entry["bytes"]) == ("outputs/launch/intro.mp4", "sha-old", 100)
    store.record_task("launch/intro", "new", Status.FINISHED)
    store.record_output("launch/intro", "new", "outputs/launch/intro.mp4", "sha-new", 200)
    entry = json.loads(manifest.render_manifest(reader.recorded()))["videos"]["launch/intro"]
    assert (entry["sha256"], entry["bytes"], entry["task_id"], entry["status"]) == ("sha-new", 200, "new", "finished")


# -- the writer lock ---------------------------------------------------------------------------------


def test_a_second_writer_fails_at_once_naming_the_first(store_factory):
    first = store_factory.lock().acquire("apply")
    try:
        assert store_factory.lock().held()
        assert store_factory.lock().holder().command == "apply"
        with pytest.raises(LockHeldError, match=r"pid \d+ .*\(apply, since"):
            store_factory.lock().acquire("refresh")
    finally:
        first.release()
    assert not store_factory.lock().held() and store_factory.lock().holder() is None
    again = store_factory.lock().acquire("refresh")  # released cleanly: nothing taken over
    try:
        assert again.taken_over is None
    finally:
        again.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from reconciler.config import load_config
    from reconciler.state import store
    store.writer_lock(load_config(Path(sys.argv[1]))).acquire("watch")
    print("locked", flush=True)
    time.sleep(60)
""")


def test_a_dead_writers_lock_is_taken_over_and_its_holder_named(store_factory):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(store_factory.root)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeldError, match=f"pid {child.pid} .*watch"):
            store_factory.lock().acquire("apply")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        lock = _acquire_within(store_factory, "apply", seconds=30)  # SQLite: at once; a lease: when it expires
        try:
            assert lock.taken_over is not None
            assert (lock.taken_over.pid, lock.taken_over.command) == (child.pid, "watch")
        finally:
            lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


def _acquire_within(store_factory, command: str, seconds: float):
    """Take the lock, retrying while a dead holder's lease runs out (docs/team.md: 30 s)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            return store_factory.lock().acquire(command)
        except LockHeldError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- the render cache's index (docs/cache.md) ---------------------------------------------


def test_the_render_cache_index_keeps_entries_after_their_video_is_gone(store):
    v = video("launch/intro", fingerprint="fp-a")
    finish(store, v, "7")
    store.cache_put("fp-a", provider="xingyun", task_id="7", sha256="sha-7", size=100,
                    video_url="https://cdn/7.mp4")
    generation = store.generation()
    assert store.cached_fingerprints() == frozenset({"fp-a"})
    entry = store.cache_index()["fp-a"]
    assert (entry["task_id"], entry["sha256"], entry["bytes"], entry["provider"]) == ("7", "sha-7", 100, "xingyun")
    assert store.generation() == generation  # the cache is not what a saved plan was made from
    store.remove("launch/intro")
    assert store.cached_fingerprints() == frozenset({"fp-a"})  # a delete keeps the cached render
    store.cache_put("fp-a", provider="xingyun", task_id="8", sha256="sha-8", size=120)  # replaced, not doubled
    assert store.cache_index()["fp-a"]["task_id"] == "8" and len(store.cache_index()) == 1
    store.cache_drop("fp-a")
    assert store.cached_fingerprints() == frozenset() and store.cache_index() == {}


def test_a_video_served_from_the_cache_is_finished_with_no_paid_attempt(store):
    store.cache_put("fp-b", provider="unisound", task_id="t-9", sha256="sha-9", size=321)
    before = store.cache_index()["fp-b"]["used_at"]
    v = video("faq/q1", fingerprint="fp-b", provider="unisound", spec_file="specs/faq.yaml")
    generation = store.generation()
    store.publish_cached(v, store.cache_index()["fp-b"], "outputs/faq/q1.mp4", "host-a:/project")
    rec = store.get("faq/q1")
    assert rec.status is Status.FINISHED and rec.task_id == "t-9" and rec.fingerprint == "fp-b"
    assert (rec.output_file, rec.output_sha256, rec.output_bytes) == ("outputs/faq/q1.mp4", "sha-9", 321)
    assert rec.output_fingerprint == "fp-b" and not rec.output_lost
    assert store.attempts("faq/q1") == []  # nothing was paid
    assert store.generation() > generation
    assert store.cache_index()["fp-b"]["used_at"] >= before


def test_an_empty_or_missing_state_has_an_empty_cache(store_factory):
    reader = store_factory.open(readonly=True)
    assert reader.cached_fingerprints() == frozenset() and reader.cache_index() == {}


# -- where the outputs are (``outputs migrate``, issue 22) ----------------------------------


def test_the_outputs_location_is_a_setting_and_a_move_switches_files_and_location_at_once(store_factory):
    store = store_factory.open()
    assert store.meta("outputs_location") is None
    finish(store, video(), "135")
    generation = store.generation()
    store.set_meta({"outputs_location": "outputs", "state_id": "abc"})
    assert store.generation() == generation  # bookkeeping: a saved plan stays valid
    store.move_outputs({"launch/intro": ("s3://b/p/launch/intro/sha-135.mp4", None)},
                       {"outputs_location": "s3://b/p", "outputs_previous": "outputs"})
    reader = store_factory.open(readonly=True)
    moved = reader.get("launch/intro")
    assert (moved.output_file, moved.output_sha256, moved.output_place) == (
        "s3://b/p/launch/intro/sha-135.mp4", "sha-135", None)
    assert (reader.meta("outputs_location"), reader.meta("outputs_previous"), reader.meta("state_id")) == (
        "s3://b/p", "outputs", "abc")
    assert reader.generation() > generation  # the published files changed: a saved plan is stale
    store.set_meta({"outputs_previous": None})
    assert reader.meta("outputs_previous") is None


def test_a_cache_entry_records_where_its_bytes_are_and_a_plan_reads_only_those_it_can(store):
    """Issue 19 §1: an entry kept in another checkout's outputs folder (or bucket) is not
    a free render here; one from before locations were recorded is looked for."""
    store.cache_put("fp-here", provider="xingyun", task_id="1", sha256="s1", size=1, location="host-a:/p/outputs")
    store.cache_put("fp-there", provider="xingyun", task_id="2", sha256="s2", size=2, location="host-b:/p/outputs")
    store.cache_put("fp-old", provider="xingyun", task_id="3", sha256="s3", size=3)
    assert store.cache_index()["fp-there"]["location"] == "host-b:/p/outputs"
    assert store.cached_fingerprints() == frozenset({"fp-here", "fp-there", "fp-old"})
    assert store.cached_fingerprints("host-a:/p/outputs") == frozenset({"fp-here", "fp-old"})
    assert store.cached_fingerprints("s3://bucket/prefix") == frozenset({"fp-old"})


def test_the_render_history_is_the_newest_finished_renders_oldest_first(store):
    """What the poll schedule learns render durations from (apply/schedule.py)."""
    for i in range(3):
        finish(store, video(f"v{i}", provider="unisound" if i == 1 else "xingyun"), f"t{i}")
    refused = store.begin_attempt(video("refused"), holder="t")
    store.attempt_failed("refused", refused, "30005 create failed")
    rows = store.render_history(limit=2)
    assert [r["provider"] for r in rows] == ["unisound", "xingyun"]  # v1, v2: the newest two
    assert json.loads(rows[0]["request"]) == {"look_name": "A"}
    assert all(r["submitted_at"] and r["finished_at"] == "2026-01-01T00:00:00+00:00" for r in rows)
    assert len(store.render_history()) == 3


def test_a_published_output_keeps_what_its_decode_measured(store):
    from reconciler.media.verify import MediaInfo

    info = MediaInfo(duration_s=12.3456, width=160, height=90, video_codec="h264", audio=True, frames=123)
    v = video("m/a", fingerprint="fp-m")
    attempt = store.begin_attempt(v, holder="test")
    store.attempt_submitted(v.address, attempt, "9")
    store.record_task(v.address, "9", Status.FINISHED, video_url="https://cdn/9.mp4")
    store.record_output(v.address, "9", "outputs/m/a.mp4", "sha-9", 100, None, info)
    got = store.get("m/a")
    assert (got.output_duration_s, got.output_width, got.output_height) == (12.346, 160, 90)
    store.cache_put("fp-m", provider="xingyun", task_id="9", sha256="sha-9", size=100, media=info)
    entry = store.cache_index()["fp-m"]
    assert (entry["duration_s"], entry["width"], entry["height"]) == (12.346, 160, 90)
    w = video("m/b", fingerprint="fp-m")
    store.publish_cached(w, entry, "outputs/m/b.mp4")
    got = store.get("m/b")
    assert (got.output_duration_s, got.output_width, got.output_height) == (12.346, 160, 90)
    finish(store, video("m/c", fingerprint="fp-c"), "10")  # no measure given: none recorded
    assert store.get("m/c").output_duration_s is None
