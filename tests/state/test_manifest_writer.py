"""The manifest kept in step during a run (``state/manifest_writer``) when the state it
reads cannot be read: a shared state's server gone mid-run. The writer must neither
hammer the server in a busy loop nor keep the run from ending (an apply once hung for
ever in its final manifest write), and a short outage must not stop the run."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from reconciler.errors import StateUnreachableError
from reconciler.state.manifest_writer import ManifestWriter


class OutageStore:
    """``recorded()`` fails while the outage lasts (the first ``failing`` reads)."""

    def __init__(self, failing: int):
        self.failing, self.reads = failing, []  # the time of each read
        self.failed, self.answered = threading.Event(), threading.Event()

    def recorded(self) -> dict:
        self.reads.append(time.monotonic())
        if len(self.reads) <= self.failing:
            self.failed.set()
            raise StateUnreachableError("lost the connection to the state database (test)")
        self.answered.set()
        return {}


def run(tmp_path, store: OutageStore, interval: float, scenario):
    """``scenario(writer)`` on an event loop, the state read on a thread of its own as
    the engine does; returns what the writer told ``on_error`` (a halt)."""
    halted = []

    async def main():
        with ThreadPoolExecutor(max_workers=1) as state_thread:
            writer = ManifestWriter(tmp_path / "manifest.json", store, interval=interval, executor=state_thread,
                                    on_error=halted.append)
            await scenario(writer)

    asyncio.run(main())
    return halted


def test_a_short_outage_is_waited_out_and_the_manifest_written_later(tmp_path):
    store = OutageStore(failing=1)

    async def scenario(writer):
        writer.changed()
        assert await asyncio.to_thread(store.answered.wait, 10), "not tried again once the state answers"
        await writer.aflush()

    assert run(tmp_path, store, 0.05, scenario) == []  # no halt: the engine's own writes decide that
    first, retried = store.reads[:2]
    assert retried - first >= 0.4, "tried again at once: a busy loop against a server that is down"
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["videos"] == {}


def test_the_last_write_ends_with_the_states_error_while_it_stays_unreachable(tmp_path):
    store = OutageStore(failing=10**9)

    async def scenario(writer):
        writer.changed()
        assert await asyncio.to_thread(store.failed.wait, 10)
        with pytest.raises(StateUnreachableError):
            await asyncio.wait_for(writer.aflush(), timeout=30)

    assert run(tmp_path, store, 0.0, scenario) == []
    assert len(store.reads) <= 3  # the background write (perhaps one retry) and the last one
    assert not (tmp_path / "manifest.json").exists()
