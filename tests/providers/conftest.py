"""Provider tests run their coroutines with anyio's pytest plugin on asyncio."""

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
