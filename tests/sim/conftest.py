"""Fixtures for the simulator's own tests: a running sim and clients (see helpers.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.sim import start_in_thread
from tests.sim.helpers import UnisoundClient, XingyunClient


@pytest.fixture(autouse=True)
def _clean_sim_env(monkeypatch):
    for name in ("XINGYUN_APP_ID", "XINGYUN_APP_SECRET", "UNISOUND_APPKEY", "UNISOUND_SECRET",
                 "RECONCILER_SIM_FAULTS", "RECONCILER_SIM_LATENCY_MS", "RECONCILER_SIM_RENDER_SECONDS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def sim(state_dir):
    server = start_in_thread(state_dir=state_dir, render_seconds=0.4, seed=1)
    yield server
    server.stop()


@pytest.fixture
def http(sim):
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        yield client


@pytest.fixture
def xy(http) -> XingyunClient:
    return XingyunClient(http)


@pytest.fixture
def uni(http) -> UnisoundClient:
    return UnisoundClient(http)
