"""A small seeded fault campaign (bench/fault_campaign.py): kill -9 at random points of
apply, refresh and watch, crossed with vendor faults, each run recovered by plain
`apply --auto-approve` / `refresh`: nothing paid twice, no output lost that a vendor
could still give, state, manifest and outputs agree, no hang, no traceback. On both state
backends: on PostgreSQL each run's state is a fresh database, and recovery also waits
for a killed writer's lease to run out. With two checkouts (PostgreSQL), a second one of
another account acts on the shared state before each recovery and changes nothing of the first's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests import pgserver
from tests.e2e.support import BACKENDS, SECRETS
from tests.helpers import FAST_FIRST_POLL

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fault_campaign.py"


def _campaign_module():
    spec = importlib.util.spec_from_file_location("fault_campaign", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_seeded_fault_campaign_keeps_every_promise(sim, tmp_path, backend, request):
    fc = _campaign_module()
    fresh_state = None
    if backend == "postgresql":
        request.getfixturevalue("pg_server")  # the session's server, stopped with the session
        fresh_state = pgserver.fresh_database
    figures = fc.campaign(runs=3, seed=7, sim=fc.Sim(sim.url), env=fc.project_env(sim.url, {**SECRETS, **FAST_FIRST_POLL}),
                          workdir=tmp_path, fresh_state=fresh_state)
    assert figures.runs == 3 and figures.kills >= 1, figures.lines()
    assert figures.ok, "\n".join(figures.lines() + figures.problems)


def test_a_second_checkout_of_another_account_changes_none_of_the_first_ones_renders(sim, tmp_path, request):
    """Issue 19, sharing: between each run's faulted phase and its recovery, a second
    checkout of the same PostgreSQL state running as another account (its own built-in
    simulator) refreshes, plans and applies: it changes none of the first checkout's
    renders, never asks its vendor about them, exits 1 only for them; recovery still
    keeps every promise."""
    fc = _campaign_module()
    request.getfixturevalue("pg_server")
    figures = fc.campaign(runs=2, seed=7, sim=fc.Sim(sim.url), env=fc.project_env(sim.url, {**SECRETS, **FAST_FIRST_POLL}),
                          workdir=tmp_path, fresh_state=pgserver.fresh_database, two_checkouts=True)
    assert figures.runs == 2 and figures.second_checkout_rounds == 2, figures.lines()
    assert figures.ok, "\n".join(figures.lines() + figures.problems)
