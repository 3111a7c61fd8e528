"""What only the PostgreSQL state has (docs/team.md): projects in their own schemas of one
database, and a writer whose lease lapsed that can no longer write or send a create."""

from __future__ import annotations

import psycopg
import pytest

from reconciler.config import load_config
from reconciler.errors import LockHeldError
from reconciler.model import DesiredVideo, Status
from reconciler.state import store as state_store


def project(root, schema: str | None = None):
    root.mkdir()
    if schema:
        (root / "reconciler.yaml").write_text(f"state_schema: {schema}\n", encoding="utf-8")
    return load_config(root)


def video(address: str = "a") -> DesiredVideo:
    return DesiredVideo(address=address, provider="xingyun", request={"look_name": "A"}, fingerprint="fp",
                        spec_file="specs/a.yaml")


def test_two_projects_in_two_schemas_of_one_database_do_not_see_each_other(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv(state_store.STATE_URL_VAR, pg_url)
    launch, faq = project(tmp_path / "launch", "launch_2026"), project(tmp_path / "faq")
    one = state_store.open_store(launch)
    one.begin_attempt(video("launch/intro"), holder="t")
    lock = state_store.writer_lock(launch).acquire("apply")
    try:
        other = state_store.writer_lock(faq).acquire("apply")  # no global lock: another schema is free
        other.release()
        assert state_store.read_recorded(faq, recovered=False) == ({}, 0)
        assert set(state_store.read_recorded(launch, recovered=False)[0]) == {"launch/intro"}
    finally:
        lock.release()
        one.close()
    with psycopg.connect(pg_url) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert {"launch_2026", "reconciler"} <= schemas


def test_a_writer_whose_lease_lapsed_writes_nothing_and_sends_no_create(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv(state_store.STATE_URL_VAR, pg_url)
    monkeypatch.setenv("RECONCILER_TEST_LEASE_SECONDS", "20")
    config = project(tmp_path / "p")
    lock = state_store.writer_lock(config).acquire("watch")
    store = state_store.open_store(config)
    try:
        attempt = store.begin_attempt(video(), holder="watch")
        with psycopg.connect(pg_url, autocommit=True) as conn:  # a long pause: the lease ran out meanwhile
            conn.execute("UPDATE reconciler.lease SET expires_at = now() - interval '1 second'")
        other = state_store.writer_lock(config).acquire("apply")  # another machine takes the role over
        try:
            assert other.taken_over is not None and other.taken_over.command == "watch"
            with pytest.raises(LockHeldError, match="writer lease .* was lost"):
                store.begin_attempt(video("b"), holder="watch")
            with pytest.raises(LockHeldError, match="lost"):
                store.attempt_submitted("a", attempt, "135")
            assert store.get("a").status is Status.PENDING and store.get("b") is None
        finally:
            other.release()
    finally:
        store.close()
        lock.release()


def test_an_intent_needs_half_the_lease_left(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv(state_store.STATE_URL_VAR, pg_url)
    monkeypatch.setenv("RECONCILER_TEST_LEASE_SECONDS", "20")
    config = project(tmp_path / "p")
    lock = state_store.writer_lock(config).acquire("apply")
    store = state_store.open_store(config)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:  # renewals stalled: 5 s left of 20
            conn.execute("UPDATE reconciler.lease SET expires_at = now() + interval '5 seconds'")
        with pytest.raises(LockHeldError):
            store.begin_attempt(video(), holder="apply")
        assert store.get("a") is None and store.attempts() == []
    finally:
        store.close()
        lock.release()


def test_a_second_writer_fails_at_once_naming_the_first_while_a_transaction_of_it_holds_the_lease(
        tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv(state_store.STATE_URL_VAR, pg_url)
    config = project(tmp_path / "p")
    first = state_store.writer_lock(config).acquire("apply")
    try:
        with psycopg.connect(pg_url) as busy:  # a long transaction of the first writer keeps the lease row locked
            busy.execute("SELECT * FROM reconciler.lease FOR UPDATE")
            with pytest.raises(LockHeldError, match=r"locked by pid \d+ on .*\(apply, since"):
                state_store.writer_lock(config).acquire("apply")
            busy.rollback()
    finally:
        first.release()


def test_a_second_first_user_does_not_wait_for_the_first_ones_schema_transaction(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv(state_store.STATE_URL_VAR, pg_url)
    config = project(tmp_path / "p")
    with psycopg.connect(pg_url) as first:  # the first user's DDL transaction, not committed yet
        first.execute("SELECT pg_advisory_xact_lock(hashtext('reconciler schema reconciler'))")
        first.execute("CREATE SCHEMA reconciler")
        with pytest.raises(LockHeldError, match="being taken by another process"):
            state_store.writer_lock(config).acquire("apply")
        first.rollback()
    lock = state_store.writer_lock(config).acquire("apply")  # once it is over, the role is free
    lock.release()
