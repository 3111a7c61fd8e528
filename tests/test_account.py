"""``config/account``: the vendor account a checkout runs as (docs/team.md), as recorded
with every render: the public id and where its tasks live, never a secret."""

from __future__ import annotations

import pytest

from reconciler.config import account as config_account
from reconciler.config import load_config
from reconciler.errors import ConfigError


def checkout(root, endpoint: str = "sim"):
    root.mkdir()
    (root / "reconciler.yaml").write_text(
        f"providers:\n  xingyun: {{endpoint: '{endpoint}'}}\n  unisound: {{endpoint: '{endpoint}'}}\n")
    return load_config(root)


def test_each_checkouts_simulator_is_an_account_of_its_own_and_stays_one(tmp_path):
    a, b = checkout(tmp_path / "a"), checkout(tmp_path / "b")
    first = config_account.account(a, "xingyun", {})
    assert first.startswith("sim-app@sim:")
    assert config_account.account(a, "xingyun", {}) == first  # the same simulator, run after run
    assert config_account.account(load_config(a.root), "unisound", {}) == first  # one simulator serves both vendors
    assert config_account.account(b, "xingyun", {}) != first  # another checkout: its own tasks


def test_a_real_endpoint_is_its_host_and_the_public_id_only(tmp_path):
    config = checkout(tmp_path / "p", "https://nebula-agent.xingyun3d.com/base?x=1")
    env = {"XINGYUN_APP_ID": "app-7", "XINGYUN_APP_SECRET": "s3cr3t-value",
           "UNISOUND_APPKEY": "key-9", "UNISOUND_SECRET": "other-s3cr3t", "UNISOUND_ENDPOINT": "http://127.0.0.1:8765"}
    assert config_account.account(config, "xingyun", env) == "app-7@nebula-agent.xingyun3d.com"
    assert config_account.account(config, "unisound", env) == "key-9@127.0.0.1:8765"
    assert config_account.accounts(config, {**env, "XINGYUN_APP_SECRET": ""}) == {"unisound": "key-9@127.0.0.1:8765"}
    with pytest.raises(ConfigError):
        config_account.account(config, "xingyun", {})
