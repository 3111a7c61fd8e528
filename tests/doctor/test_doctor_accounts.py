"""``reconciler doctor`` lists the unfinished renders another vendor account created
(docs/team.md): this checkout never follows them, so a person must know whose they are."""

from __future__ import annotations

from reconciler.config import account as config_account
from reconciler.config import load_config
from reconciler.doctor.checks import run_checks
from reconciler.model import DesiredVideo
from reconciler.state.sqlite import StateStore


def _desired(address: str) -> DesiredVideo:
    return DesiredVideo(address, "xingyun", {"text": address}, "f-" + address, "specs/a.yaml", 1)


def test_unfinished_renders_of_another_account_are_a_warning_naming_it(tmp_path):
    project = tmp_path / "p"
    (project / "specs").mkdir(parents=True)
    (project / "reconciler.yaml").write_text("providers: {xingyun: {endpoint: sim}, unisound: {endpoint: sim}}\n")
    mine = config_account.account(load_config(project), "xingyun", {})
    store = StateStore(project / "state" / "reconciler.db")
    try:
        for address, account in (("theirs", "sim-app@sim:0123456789ab"), ("ours", mine), ("older", None)):
            store.attempt_submitted(address, store.begin_attempt(_desired(address), "test", account), "t-" + address)
    finally:
        store.close()
    found = {c.name: c for c in run_checks(project, {})}
    assert found["accounts"].status == "warning"
    assert "theirs (xingyun app id sim-app at sim:0123456789ab)" in found["accounts"].detail
    assert "ours" not in found["accounts"].detail and "older" not in found["accounts"].detail
