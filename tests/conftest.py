"""Suite-wide fixtures: the session's PostgreSQL server (``tests/pgserver.py``), started
only by a test that asks for it and stopped when the session ends."""

from __future__ import annotations

import pytest

from tests import pgserver


@pytest.fixture(scope="session")
def pg_server():
    yield pgserver.server_url()
    pgserver.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """An empty database of its own on the session's server."""
    return pgserver.fresh_database()
