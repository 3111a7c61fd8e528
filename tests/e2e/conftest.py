"""Fixtures for the end-to-end tests: one `reconciler sim` process for the session
(reset before each test), and a fresh temp project per test (see support.py) whose
state is SQLite, or a fresh PostgreSQL database of its own on the session's server when
the test is parametrized with ``on_both_backends`` (``on_every_backend``: also reached
through PgBouncer in transaction mode); for outputs in a bucket, a project on a fresh
bucket of the session's S3 server and a fault proxy in front of that server
(tests/s3server.py, tests/s3proxy.py)."""

from __future__ import annotations

import pytest

from tests.e2e.support import Project, S3Project, Sim, database_url


@pytest.fixture(scope="session")
def sim_server(tmp_path_factory):
    server = Sim(tmp_path_factory.mktemp("sim"))
    yield server
    server.stop()


@pytest.fixture
def sim(sim_server):
    sim_server.reset()
    yield sim_server


@pytest.fixture
def state_backend(request) -> str:
    """``sqlite`` unless the test is parametrized over ``support.BACKENDS``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def project(tmp_path, sim, state_backend, request) -> Project:
    return Project(tmp_path / "proj", sim, state_url=database_url(request, state_backend))


@pytest.fixture
def s3_project(tmp_path, sim, s3_server, s3_bucket, state_backend, request) -> S3Project:
    return S3Project(tmp_path / "proj", sim, s3_server, s3_bucket, state_url=database_url(request, state_backend))


@pytest.fixture
def s3_proxy(s3_server):
    from tests.s3proxy import S3Proxy

    proxy = S3Proxy(s3_server.endpoint)
    yield proxy
    proxy.close()
