"""Issue 9 §1-2 in the SQLite store: a state of schema 1 is migrated keeping its rows.
(The backend-neutral half, download starts and lost renders, is in the contract suite,
``test_store_contract.py``, so every backend is held to it.)"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from reconciler.model import DesiredVideo, Status
from reconciler.state import sqlite as sqlite_mod
from reconciler.state.sqlite import SCHEMA_VERSION, StateStore


def video(fingerprint: str = "fp1") -> DesiredVideo:
    return DesiredVideo(address="a", provider="unisound", request={"text": fingerprint}, fingerprint=fingerprint,
                        spec_file="specs/a.yaml")


def rendered(store: StateStore, fingerprint: str, task: str) -> None:
    attempt = store.begin_attempt(video(fingerprint), holder="test")
    store.attempt_submitted("a", attempt, task)


def test_a_schema_1_state_is_migrated_with_its_rows(tmp_path):
    path = tmp_path / "reconciler.db"
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    db["meta"].create({"key": str, "value": str}, pk="key")
    sqlite_mod._migrate_1(db)
    db["meta"].insert_all([{"key": "schema_version", "value": "1"}, {"key": "generation", "value": "3"}])
    db["videos"].insert({"address": "a", "provider": "unisound", "fingerprint": "fp", "status": "finished",
                         "task_id": "7", "output_file": "outputs/a.mp4", "output_lost": 0})
    conn.commit()
    conn.close()
    store = StateStore(path)
    try:
        assert SCHEMA_VERSION >= 2 and store.get("a").status is Status.FINISHED
        assert store.download_started("a") is None
        assert store.generation() == 4  # an upgrade counts on: a plan saved at 3 is stale, none saved at 0 fresh
    finally:
        store.close()


def test_a_schema_4_state_gains_the_cache_location_and_keeps_its_entries(tmp_path):
    """Issue 19 §1: the cache entries of a state written before locations were recorded
    are kept, their location unknown (NULL: a plan looks for their file)."""
    path = tmp_path / "reconciler.db"
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    db["meta"].create({"key": str, "value": str}, pk="key")
    for version in (1, 2, 3, 4):
        sqlite_mod.MIGRATIONS[version](db)
    db["meta"].insert_all([{"key": "schema_version", "value": "4"}, {"key": "generation", "value": "2"}])
    db["cache"].insert({"fingerprint": "fp", "provider": "xingyun", "task_id": "7", "sha256": "s", "bytes": 9})
    conn.commit()
    conn.close()
    store = StateStore(path)
    try:
        assert store.cache_index()["fp"]["location"] is None
        assert store.cached_fingerprints("host:/p/outputs") == frozenset({"fp"})
    finally:
        store.close()
