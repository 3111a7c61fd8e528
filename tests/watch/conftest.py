"""Fixtures of the watch tests: a project with its own simulator (``helpers.Project``)."""

from __future__ import annotations

import signal

import pytest

from reconciler.sim import start_in_thread
from tests.watch.helpers import Project


@pytest.fixture
def project(tmp_path):
    sim = start_in_thread(state_dir=tmp_path / "sim", render_seconds=0.5)
    proj = Project(tmp_path / "proj", sim)
    yield proj
    for w in proj.watches:
        w.stop(signal.SIGKILL)
    sim.stop()
