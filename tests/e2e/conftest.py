"""Fixtures for the end-to-end tests: one `reconciler sim` process for the session
(reset before each test), and a fresh temp project per test (see support.py) whose
state is SQLite, or a fresh PostgreSQL database of its own on the session's server when
the test is parametrized with ``on_both_backends`` (``on_every_backend``: also reached
through PgBouncer in transaction mode)."""

from __future__ import annotations

import pytest

from tests.e2e.support import Project, Sim, database_url


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
