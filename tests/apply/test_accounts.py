"""The engine and vendor accounts (docs/team.md): a create records the account it is sent
with; a render another account created is never polled (so never marked failed on its
vendor's "task not found"), while that answer about a render of this account is still
a fact about it."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import PermanentError
from reconciler.model import VENDORS, Action, Status
from tests.fakes import Rig, change, plan, video

THEIRS = "sim-app@sim:0123456789ab"  # another checkout's simulator


@pytest.fixture
def rig(tmp_path, monkeypatch) -> Rig:
    for vendor in VENDORS.values():
        for var in (vendor.env_app_id, vendor.env_secret, vendor.env_endpoint):
            monkeypatch.delenv(var, raising=False)
    (tmp_path / "reconciler.yaml").write_text("providers: {xingyun: {endpoint: sim}, unisound: {endpoint: sim}}\n")
    return Rig(tmp_path)


def test_a_create_records_the_account_it_was_sent_with(rig):
    asyncio.run(rig.apply(plan(change(Action.CREATE, video("a")))))
    mine = rig.engine.account("xingyun")
    assert mine.startswith("sim-app@sim:") and rig.store.get("a").account == mine
    assert [row["account"] for row in rig.store.attempts("a")] == [mine]


def test_task_not_found_fails_only_this_accounts_render_and_the_other_is_never_polled(rig):
    mine = rig.engine.account("xingyun")
    for address, account in (("ours", mine), ("theirs", THEIRS)):
        rig.store.attempt_submitted(address, rig.store.begin_attempt(video(address), "test", account), "t-" + address)
    rig.providers["xingyun"].status_errors.append(PermanentError("task not found", provider="xingyun", code=30004))

    async def refresh():
        await rig.engine.track_unfinished()
        await rig.engine.poll_once()
        await rig.engine.close()

    asyncio.run(refresh())
    assert rig.store.get("ours").status is Status.FAILED
    assert rig.store.get("theirs").status is Status.RENDERING and rig.store.get("theirs").error is None
    assert rig.providers["xingyun"].kinds("status") == [("status", "t-ours")]
    assert ("theirs", "other_account") in rig.kinds()
    assert "sim:0123456789ab" in rig.engine.errors["theirs"]
