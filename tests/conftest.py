"""Suite-wide fixtures: the session's PostgreSQL server (``tests/pgserver.py``), the
PgBouncer in transaction mode in front of it (``tests/pgbouncer.py``) and the S3 server
(``tests/s3server.py``), each started only by a test that asks for it and stopped when
the session ends.

Every run of the engine in this session (in-process, or a console script started with
this environment) polls a render first after 0.7 s instead of the vendors' 2 s
(``helpers.FAST_FIRST_POLL``, ``apply/schedule.py``): the simulators here render in
0.2-0.6 s. A helper that strips ``RECONCILER_*`` from a child's environment adds it
back; a test that needs the real schedule passes one, or removes the variable.
Under pytest-xdist each worker is a session of its own: its own servers, started on
first use (PostgreSQL 2-4 s, SeaweedFS ~4 s on a busy 2-core machine, the workers'
starts overlapping), never shared: no worker has to outlive another to stop them."""

from __future__ import annotations

import os

import pytest

from tests import pgbouncer, pgserver
from tests.helpers import FAST_FIRST_POLL

for _name, _value in FAST_FIRST_POLL.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def pg_server():
    yield pgserver.server_url()
    pgserver.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """An empty database of its own on the session's server."""
    return pgserver.fresh_database()


@pytest.fixture(scope="session")
def pg_bouncer(pg_server):
    """The session's PgBouncer (transaction mode); skipped where it is not installed."""
    if pgbouncer.executable() is None:
        pytest.skip(pgbouncer.MISSING)
    pgbouncer.start()
    yield
    pgbouncer.stop()


@pytest.fixture
def bouncer_url(pg_bouncer) -> str:
    """An empty database of its own on the session's server, reached through PgBouncer."""
    return pgbouncer.fresh_database()


@pytest.fixture(scope="session")
def s3_server():
    """The session's S3-compatible server (``tests/s3server.py``), started on first use."""
    from tests import s3server

    try:
        yield s3server.server()
    finally:
        s3server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """An empty bucket of its own on the session's S3 server; dropped afterwards."""
    from tests import s3server

    name = s3server.fresh_bucket()
    yield name
    s3server.drop_bucket(name)
