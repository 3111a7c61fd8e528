"""first_of: the one "stop, or work, or a timeout" wait of the engine, daemon and watcher."""

import asyncio

from reconciler.util.aio import first_of


def test_returns_on_the_first_event_and_leaves_no_waiter_behind():
    async def main():
        stop, work = asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().call_soon(work.set)
        await asyncio.wait_for(first_of(stop, work, None), timeout=5)
        await asyncio.sleep(0)  # let the cancelled waiters finish cancelling
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(main()) == []


def test_returns_after_the_timeout_when_nothing_is_set():
    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await first_of(asyncio.Event(), timeout=0.01)
        return loop.time() - start

    assert 0.005 <= asyncio.run(main()) < 5
