"""The vendor account each render was created with (docs/team.md), as both state backends
keep it: recorded with the intent, put back with the video when a create was never sent,
and absent (None: any account, today's behaviour) on rows written before it existed."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from reconciler.config import load_config
from reconciler.model import DesiredVideo
from reconciler.state import sqlite as sqlite_mod
from reconciler.state import store as state_store


def video(fingerprint: str = "fp1") -> DesiredVideo:
    return DesiredVideo(address="a", provider="xingyun", request={"look_name": fingerprint},
                        fingerprint=fingerprint, spec_file="specs/a.yaml")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch):
    monkeypatch.delenv(state_store.STATE_URL_VAR, raising=False)
    if request.param == "postgresql":
        monkeypatch.setenv(state_store.STATE_URL_VAR, request.getfixturevalue("pg_url"))
    (tmp_path / "p").mkdir()
    opened = state_store.open_store(load_config(tmp_path / "p"))
    yield opened
    opened.close()


def test_each_render_records_the_account_it_was_created_with(store):
    first = store.begin_attempt(video("fp1"), "test", "app-1@vendor.example")
    store.attempt_submitted("a", first, "t1")
    assert store.get("a").account == "app-1@vendor.example"
    second = store.begin_attempt(video("fp2"), "test", "app-2@vendor.example")
    assert store.get("a").account == "app-2@vendor.example"
    store.attempt_not_sent("a", second, "connection refused")  # never sent: the video is as it was
    assert store.get("a").account == "app-1@vendor.example" and store.get("a").task_id == "t1"
    assert [row["account"] for row in store.attempts("a")] == ["app-1@vendor.example", "app-2@vendor.example"]


def test_rows_written_before_accounts_existed_have_none(tmp_path):
    path = tmp_path / "reconciler.db"
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    db["meta"].create({"key": str, "value": str}, pk="key")
    for version in range(1, 5):
        sqlite_mod.MIGRATIONS[version](db)
    db["meta"].insert_all([{"key": "schema_version", "value": "4"}, {"key": "generation", "value": "3"}])
    db["videos"].insert({"address": "a", "provider": "xingyun", "fingerprint": "fp", "status": "rendering",
                         "task_id": "7", "output_lost": 0})
    conn.commit()
    conn.close()
    store = sqlite_mod.StateStore(path)
    try:
        recorded = store.get("a")
        assert recorded.account is None and recorded.task_id == "7"
    finally:
        store.close()
