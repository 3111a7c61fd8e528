"""make_provider: credentials from the environment, settings from reconciler.yaml, and
``endpoint: sim`` started once per process and shared by both vendors."""

from __future__ import annotations

import threading

import httpx
import pytest

from reconciler.config import load_config
from reconciler.errors import ConfigError, PermanentError
from reconciler.providers import local_sim, make_provider
from reconciler.providers.base import RenderRequest, TaskState
from reconciler.providers.unisound import UnisoundProvider
from reconciler.providers.xingyun import XingyunProvider

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(tmp_path):
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n"
        "  xingyun: {endpoint: sim, concurrency: 4, timeout: 7}\n"
        "  unisound: {endpoint: sim}\n", encoding="utf-8")
    yield load_config(tmp_path)
    local_sim.stop_all()


@pytest.fixture(autouse=True)
def quick_sim(monkeypatch):
    monkeypatch.setenv("RECONCILER_SIM_RENDER_SECONDS", "0.3")
    monkeypatch.delenv("RECONCILER_SIM_FAULTS", raising=False)


async def test_sim_endpoint_starts_one_shared_simulator(project):
    x = make_provider("xingyun", project, env={})
    u = make_provider("unisound", project, env={})
    assert isinstance(x, XingyunProvider) and isinstance(u, UnisoundProvider)
    assert x.capabilities.max_concurrency == 4 and u.capabilities.max_concurrency == 5
    assert x.http.timeout.read == 7 and u.http.timeout.read == 30
    assert x._creds.endpoint == u._creds.endpoint == local_sim.sim_url(project)
    assert x._creds.endpoint.startswith("http://127.0.0.1:")
    task = await x.submit(RenderRequest("xingyun", {"look_name": "a", "tts_vcn_name": "b", "studio_name": "c",
                                                    "segment": [{"text": "hi"}]}))
    assert (await x.status(task.task_id)).state in (TaskState.PENDING, TaskState.RENDERING, TaskState.FINISHED)
    started = await u.submit(RenderRequest("unisound", {"text": "hi", "type": 2, "speech_param": {"vcn": "v"},
                                                        "video_param": {"template": "t", "background": 1}}))
    assert started.task_id
    await x.aclose()
    await u.aclose()


def test_sim_start_is_thread_safe_and_once(project):
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(local_sim.sim_url(project))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(urls)) == 1 and len(urls) == 8


async def test_sim_accepts_credentials_from_the_environment(project):
    env = {"XINGYUN_APP_ID": "my-app", "XINGYUN_APP_SECRET": "my-secret"}
    x = make_provider("xingyun", project, env=env)
    assert x._creds.app_id == "my-app"
    with pytest.raises(PermanentError) as info:
        await x.status("123456")
    assert info.value.code == 30004  # authenticated: the task simply does not exist
    await x.aclose()


def test_real_endpoint_needs_credentials(tmp_path):
    config = load_config(tmp_path)
    with pytest.raises(ConfigError, match="XINGYUN_APP_ID and XINGYUN_APP_SECRET"):
        make_provider("xingyun", config, env={})
    p = make_provider("unisound", config, env={"UNISOUND_APPKEY": "k", "UNISOUND_SECRET": "uni-sekret-123",
                                               "UNISOUND_ENDPOINT": "https://uni.example/"})
    assert p._creds.endpoint == "https://uni.example" and "uni-sekret-123" not in repr(p)


def test_unknown_provider(tmp_path):
    with pytest.raises(ConfigError, match="unknown provider"):
        make_provider("acme", load_config(tmp_path), env={})


async def test_injected_client_is_used_and_not_closed(tmp_path):
    seen = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda r: seen.append(r) or httpx.Response(200, json={"error_code": 0, "task_id": "t1"})))
    p = make_provider("unisound", load_config(tmp_path), env={"UNISOUND_APPKEY": "k", "UNISOUND_SECRET": "s"},
                      client=client)
    await p.submit(RenderRequest("unisound", {"text": "x"}))
    await p.aclose()
    assert len(seen) == 1 and seen[0].url.host == "ai-api.hivoice.cn" and not client.is_closed
    await client.aclose()


async def test_unisound_auth_settings_reach_the_provider_and_the_built_in_simulator(tmp_path):
    from reconciler.model import UnisoundAuth

    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n"
        "  unisound:\n"
        "    endpoint: sim\n"
        "    auth_in: body\n"
        "    auth_names: {appkey: appkey, timestamp: time}\n", encoding="utf-8")
    try:
        u = make_provider("unisound", load_config(tmp_path), env={})
        assert u.auth == UnisoundAuth("body", "appkey", "time", "signature")  # unnamed ones keep the default
        assert (await u.probe()).authenticated  # `endpoint: sim` requires what reconciler.yaml says
        await u.aclose()
    finally:
        local_sim.stop_all()


@pytest.mark.parametrize("text, message", [
    ("  unisound: {auth_in: soap}\n", "reconciler.yaml:2: providers.unisound.auth_in: must be one of: query, body, header"),
    ("  unisound: {auth_names: {key: k}}\n", "providers.unisound.auth_names.key: unknown key"),
    ("  unisound: {auth_names: {signature: ''}}\n", "providers.unisound.auth_names.signature: must be a non-empty string"),
    ("  xingyun: {auth_in: body}\n", "providers.xingyun.auth_in: unknown key"),
])
def test_bad_auth_settings_are_config_errors_with_the_line(tmp_path, text, message):
    (tmp_path / "reconciler.yaml").write_text("providers:\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert message in str(info.value)
