"""Small asyncio helpers the event loops share.

Why a module: the engine's loop, the daemon's loop and the file watcher all sleep
until "stop, or something to do, or a timeout", and ``asyncio`` has no one-call way
to wait for the first of several events. One helper means one place that remembers
to cancel the waiters it leaves behind.
"""

from __future__ import annotations

import asyncio


async def first_of(*events: asyncio.Event | None, timeout: float | None = None) -> None:
    """Return when any of ``events`` (None ones are ignored) is set, or after
    ``timeout`` seconds (None: no limit)."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
