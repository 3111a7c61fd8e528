"""Each attempt keeps the request it sent (schema 5), on both backends: what a paid
render cost is then read from its own row (the gallery's money, docs/budget.md), and
nothing later (an edit, a delete, a `state forget`) changes it. A state written before
is upgraded with each attempt's request filled in from what it still knows."""

from __future__ import annotations

import json
import sqlite3

import pytest

from reconciler.config import load_config
from reconciler.model import DesiredVideo, Status
from reconciler.state import store as state_store


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        from tests import pgserver

        request.getfixturevalue("pg_server")
        monkeypatch.setenv(state_store.STATE_URL_VAR, pgserver.fresh_database())
    else:
        monkeypatch.delenv(state_store.STATE_URL_VAR, raising=False)
    return load_config(tmp_path)


def _video(address: str, text: str) -> DesiredVideo:
    return DesiredVideo(address=address, provider="unisound", request={"text": text, "type": 2},
                        fingerprint=f"fp-{address}-{text}", spec_file="specs/a.yaml")


def _paid(store, video: DesiredVideo, task: str) -> None:
    attempt = store.begin_attempt(video, holder="test")
    store.attempt_submitted(video.address, attempt, task)


def _sent(config) -> list[tuple[str, dict | None]]:
    store = state_store.open_store(config, readonly=True)
    try:
        return [(row["address"], row["request"] and json.loads(row["request"])) for row in store.attempts()]
    finally:
        store.close()


def test_each_attempt_keeps_the_request_it_sent(config):
    store = state_store.open_store(config)
    try:
        _paid(store, _video("a", "第一版"), "1")
        _paid(store, _video("a", "第二版"), "2")
        store.import_task(_video("b", "导入的"), "3", Status.RENDERING, holder="state import")
        store.remove("a")
        store.forget(["b"])
    finally:
        store.close()
    assert _sent(config) == [("a", {"text": "第一版", "type": 2}), ("a", {"text": "第二版", "type": 2}),
                             ("b", {"text": "导入的", "type": 2})]


def _as_schema_4(config) -> None:
    """Make the state look written by a reconciler before attempts kept their request."""
    sql = ["ALTER TABLE {s}attempts DROP COLUMN request", "ALTER TABLE {s}attempts DROP COLUMN account",
           "ALTER TABLE {s}videos DROP COLUMN account",
           "ALTER TABLE {s}cache DROP COLUMN location",
           *(f"ALTER TABLE {{s}}videos DROP COLUMN {c}" for c in ("output_duration_s", "output_width", "output_height")),
           *(f"ALTER TABLE {{s}}cache DROP COLUMN {c}" for c in ("duration_s", "width", "height")),
           "UPDATE {s}meta SET value = '4' WHERE key = 'schema_version'"]
    backend = state_store.backend(config)
    if isinstance(backend, state_store.SqliteBackend):
        with sqlite3.connect(backend.path) as conn:
            for statement in sql:
                conn.execute(statement.format(s=""))
        conn.close()
        return
    import psycopg

    with psycopg.connect(backend.url, autocommit=True) as conn:
        for statement in sql:
            conn.execute(statement.format(s=backend.schema + "."))


def test_an_older_state_is_upgraded_with_what_each_attempt_sent(config):
    store = state_store.open_store(config)
    try:
        _paid(store, _video("a", "第一版"), "1")
        _paid(store, _video("a", "第二版"), "2")  # a's first request: kept in this attempt's `previous`
        _paid(store, _video("gone", "删掉了"), "3")
        store.remove("gone")  # before the upgrade: its request was only in the video row
    finally:
        store.close()
    _as_schema_4(config)
    state_store.open_store(config).close()  # a writer upgrades the state
    assert _sent(config) == [("a", {"text": "第一版", "type": 2}), ("a", {"text": "第二版", "type": 2}),
                             ("gone", None)]
