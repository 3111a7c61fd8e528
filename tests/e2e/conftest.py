"""Fixtures for the end-to-end tests: one `reconciler sim` process for the session
(reset before each test), and a fresh temp project per test (see support.py)."""

from __future__ import annotations

import pytest

from tests.e2e.support import Project, Sim


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
def project(tmp_path, sim) -> Project:
    return Project(tmp_path / "proj", sim)
