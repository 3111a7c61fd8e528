"""Issue 9 §1-2 in the store: the start of a download is recorded (so a file renamed
into place before its record is adopted), a state of schema 1 is migrated keeping its
rows, and a replace whose new output is lost keeps the old one published."""

from __future__ import annotations

import json
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
    finally:
        store.close()


def test_the_download_of_the_current_task_is_recorded_until_its_output_is(tmp_path):
    store = StateStore(tmp_path / "reconciler.db")
    try:
        rendered(store, "fp1", "t1")
        prior = json.dumps([1, 2, 3])
        assert store.record_task("a", "t1", Status.FINISHED, video_url="u", downloading=True, download_prior=prior)
        assert store.download_started("a") == ("t1", prior)
        store.download_ended("a", "t1")
        assert store.download_started("a") is None
        store.record_task("a", "t1", Status.FINISHED, downloading=True, download_prior=None)
        store.record_output("a", "t1", "outputs/a.mp4", "sha", 10)
        assert store.download_started("a") is None
    finally:
        store.close()


def test_a_lost_new_render_keeps_the_old_output_published(tmp_path):
    store = StateStore(tmp_path / "reconciler.db")
    try:
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
    finally:
        store.close()


def test_a_lost_first_render_is_an_output_lost(tmp_path):
    store = StateStore(tmp_path / "reconciler.db")
    try:
        rendered(store, "fp1", "t1")
        store.record_task("a", "t1", Status.FINISHED, downloading=True)
        store.render_output_lost("a", "t1", "gone")
        r = store.get("a")
        assert r.output_lost and not r.has_output and r.status is Status.FINISHED
    finally:
        store.close()
