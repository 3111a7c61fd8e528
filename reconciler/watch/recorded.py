"""The daemon's in-memory copy of the recorded state, refreshed row by row.

Why: reading every row of the state DB (``Store.recorded``) costs about 40 µs a
video, 0.4 s for 10,000, and the daemon plans on every save. But only this process
writes the state while it holds the lock, and every write the engine makes is
reported as an event naming the video. So the daemon reads everything once, marks
the addresses its engine reports on as dirty, and re-reads just those rows
(``Store.get``) before the next plan. A full read now and then (the periodic
re-check, or when many rows are dirty) heals anything an event did not cover.
"""

from __future__ import annotations

from reconciler.model import RecordedVideo
from reconciler.state.store import Store

FULL_READ_ABOVE = 500  # dirty rows beyond which one full read is cheaper


class RecordedCache:
    def __init__(self, store: Store):
        self.store = store
        self.videos: dict[str, RecordedVideo] = {}
        self.dirty: set[str] = set()
        self.stale = True

    def touch(self, address: str) -> None:
        """The engine reported on ``address``: its row may have changed."""
        self.dirty.add(address)

    def invalidate(self) -> None:
        """Read everything again next time."""
        self.stale = True

    def snapshot(self) -> dict[str, RecordedVideo]:
        """The recorded state as of now (a copy the caller may keep)."""
        if self.stale or len(self.dirty) > FULL_READ_ABOVE:
            self.videos = self.store.recorded()
            self.stale = False
        else:
            for address in self.dirty:
                video = self.store.get(address)
                if video is None:
                    self.videos.pop(address, None)
                else:
                    self.videos[address] = video
        self.dirty.clear()
        return dict(self.videos)
