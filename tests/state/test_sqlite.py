"""What only the SQLite store does: its file. The behaviour every backend shares (intents,
answers, replaces, losses, generation, schema, read-only stores, the writer lock) is
``test_store_contract.py``'s, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.model import DesiredVideo, Status
from reconciler.state.sqlite import StateStore


def video(address="launch/intro", fingerprint="fp1", **kw) -> DesiredVideo:
    return DesiredVideo(address=address, provider=kw.pop("provider", "xingyun"), request={"look_name": "A"},
                        fingerprint=fingerprint, spec_file=kw.pop("spec_file", "specs/launch.yaml"), **kw)


def finish(store: StateStore, v: DesiredVideo, task: str) -> None:
    """A full successful render of ``v``: intent, answer, finished poll, download."""
    attempt = store.begin_attempt(v, holder="test")
    store.attempt_submitted(v.address, attempt, task)
    store.record_task(v.address, task, Status.FINISHED, video_url=f"https://cdn/{task}.mp4",
                      finished_at="2026-01-01T00:00:00+00:00")
    store.record_output(v.address, task, f"outputs/{v.address}.mp4", "sha-" + task, 100)


def test_readonly_open_works_with_odd_characters_in_the_path(tmp_path):
    path = tmp_path / "my #1 project?" / "reconciler.db"
    writer = StateStore(path)
    finish(writer, video(), "1")
    writer.close()
    reader = StateStore.open_readonly(path)
    assert set(reader.recorded()) == {"launch/intro"}
    reader.close()


def test_a_corrupt_state_file_is_a_state_error(tmp_path: Path):
    path = tmp_path / "reconciler.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="cannot read the state database"):
        StateStore.open_readonly(path)
