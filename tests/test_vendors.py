"""One table of vendor facts (``model.VENDORS``): every other place reads it, so a new
entry is all that config, plan messages, the engine and the clients need from it."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reconciler import config as config_mod
from reconciler import model
from reconciler.errors import ConfigError
from reconciler.model import PlanOptions, RecordedVideo, Status, Vendor
from reconciler.planning import planner, view
from reconciler.providers import make_provider
from reconciler.providers.base import Capabilities
from reconciler.specs import schema

ACME = Vendor("acme", "Acme Video", can_cancel=False, one_shot_download=True,
              env_app_id="ACME_KEY", env_secret="ACME_SECRET", env_endpoint="ACME_URL",
              default_endpoint="https://api.acme.example", client="xingyun:XingyunProvider")


@pytest.fixture
def acme(monkeypatch):
    monkeypatch.setitem(model.VENDORS, "acme", ACME)


def test_the_contract_names_come_from_the_table():
    env = {name: (v.env_app_id, v.env_secret, v.env_endpoint) for name, v in model.VENDORS.items()}
    assert env == {"xingyun": ("XINGYUN_APP_ID", "XINGYUN_APP_SECRET", "XINGYUN_ENDPOINT"),
                   "unisound": ("UNISOUND_APPKEY", "UNISOUND_SECRET", "UNISOUND_ENDPOINT")}
    defaults = config_mod.ConfigFile().providers
    assert defaults["xingyun"].endpoint == "https://nebula-agent.xingyun3d.com"
    assert defaults["unisound"].endpoint == "https://ai-api.hivoice.cn"


def test_a_new_entry_gives_its_environment_names_to_config(acme, tmp_path):
    config = config_mod.load_config(tmp_path)
    with pytest.raises(ConfigError) as err:
        config.credentials("acme", env={})
    assert "set ACME_KEY and ACME_SECRET" in str(err.value) and "ACME_URL=sim" in str(err.value)
    creds = config.credentials("acme", env={"ACME_KEY": "k", "ACME_SECRET": "s"})
    assert (creds.endpoint, creds.app_id) == ("https://api.acme.example", "k")
    assert config.credentials("acme", env={"ACME_URL": "sim"}).endpoint == "sim"
    assert config_mod.secrets({"ACME_SECRET": "hush", "XINGYUN_APP_ID": "id"}) == {"ACME_SECRET": "hush"}


def test_a_new_entry_gives_its_name_and_cancel_rule_to_the_plan(acme):
    recorded = {"talk": RecordedVideo("talk", "acme", "fp", Status.RENDERING, task_id="t7")}
    plan = planner.make_plan({}, recorded, PlanOptions())
    assert plan.changes[0].reason.endswith("(task t7) will be abandoned: Acme Video has no cancel API")
    out = io.StringIO()
    view.print_plan(plan, Console(file=out, width=200, force_terminal=False, color_system=None))
    assert "not cancelled: Acme Video has no cancel API." in out.getvalue()


def test_a_new_entry_gives_its_capabilities_and_client(acme, tmp_path):
    assert Capabilities.of("acme", 3) == Capabilities(can_cancel=False, one_shot_download=True, max_concurrency=3)
    config = config_mod.load_config(tmp_path)
    provider = make_provider("acme", config, env={"ACME_URL": "http://127.0.0.1:9", "ACME_KEY": "k",
                                                  "ACME_SECRET": "s"})
    assert type(provider).__name__ == "XingyunProvider"  # the class its entry names


def test_spec_errors_list_the_known_providers(acme):
    loc, message = schema.describe({"type": "union_tag_invalid", "loc": (), "msg": "",
                                    "input": {"provider": "nope"}}, "a")
    assert message == "must be one of: xingyun, unisound, acme (got 'nope')"
