"""reconciler.yaml through ``yamlio`` (issue 8 point 4): YAML 1.2 scalars, one parse,
duplicate keys and non-finite numbers as ``file:line`` errors, a PyYAML without
libyaml, the per-provider key table, and project-relative paths through symlinks."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from reconciler import config as config_mod
from reconciler.config import load_config
from reconciler.errors import ConfigError
from reconciler.util import yamlio


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "reconciler.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return tmp_path


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_config(root)
    return str(excinfo.value)


def test_yaml_12_scalars_a_folder_named_no_is_a_folder(tmp_path):
    """YAML 1.1 read ``specs: no`` as False ("must be a non-empty string")."""
    config = load_config(write(tmp_path, "specs: no\noutputs: on\nparallelism: 010\n"))
    assert (config.file.specs, config.file.outputs, config.parallelism) == ("no", "on", 10)


def test_duplicate_key_is_an_error_with_its_line(tmp_path):
    assert error_of(write(tmp_path, "specs: a\nproviders:\n  xingyun: {endpoint: sim}\n  xingyun: {}\n")) == \
        "reconciler.yaml:4: invalid YAML: duplicate key 'xingyun'"


@pytest.mark.parametrize("text, line, where", [
    ("max_delete_share: .nan\n", 1, "max_delete_share"),
    ("specs: specs\nmax_delete_share: -.inf\n", 2, "max_delete_share"),
    ("providers:\n  unisound:\n    timeout: .inf\n", 3, "providers.unisound.timeout"),
])
def test_non_finite_numbers_are_errors(tmp_path, text, line, where):
    message = error_of(write(tmp_path, text))
    assert message.startswith(f"reconciler.yaml:{line}: {where}: must be a finite number"), message


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    message = error_of(write(tmp_path, b"specs: specs\noutputs: \xc4\xe3\n"))
    assert message.startswith("reconciler.yaml:2: not valid UTF-8"), message


def test_config_is_parsed_once_by_yamlio(tmp_path, monkeypatch):
    calls = []
    real = yamlio.load
    monkeypatch.setattr(yamlio, "load", lambda text: calls.append(text) or real(text))
    monkeypatch.setattr(yaml, "safe_load", lambda *a, **k: pytest.fail("PyYAML's YAML 1.1 loader used"))
    monkeypatch.setattr(yaml, "compose", lambda *a, **k: pytest.fail("PyYAML's YAML 1.1 composer used"))
    load_config(write(tmp_path, "parallelism: 3\n"))
    assert len(calls) == 1


def test_provider_keys_come_from_one_table(tmp_path, monkeypatch):
    message = error_of(write(tmp_path, "providers:\n  unisound:\n    concurrency: 3\n    colour: blue\n"))
    known = sorted(set(config_mod.PROVIDER_KEYS) | set(config_mod.PROVIDER_ONLY_KEYS["unisound"])
                   | set(config_mod.PROVIDER_STRUCTURED_KEYS))
    assert message == f"reconciler.yaml:4: providers.unisound.colour: unknown key (known: {', '.join(known)})"
    config = load_config(write(tmp_path, "providers:\n  unisound: {concurrency: 3, timeout: 5}\n"))
    assert config.provider_settings("unisound").concurrency == 3
    assert config.provider_settings("unisound").timeout == 5.0
    assert config.provider_settings("xingyun").endpoint == "https://nebula-agent.xingyun3d.com"


def test_without_libyaml_the_pure_python_loader_is_used(tmp_path, monkeypatch):
    """A PyYAML built without libyaml has no CSafeLoader: importing yamlio used to crash."""
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    try:
        fallback = importlib.reload(yamlio)
        assert fallback.Loader.__mro__[1] is yaml.SafeLoader
        data, node = fallback.load("a: on\nb: 012\nc: [true, null, 1.5]\n")
        assert data == {"a": "on", "b": 12, "c": [True, None, 1.5]}
        with pytest.raises(fallback.YamlError) as excinfo:
            fallback.load("a: 1\nb: 2\na: 3\n")
        assert (excinfo.value.line, "duplicate key 'a'" in excinfo.value.message) == (3, True)
        assert load_config(write(tmp_path, "specs: no\n")).file.specs == "no"
    finally:
        monkeypatch.undo()
        importlib.reload(yamlio)
    assert yamlio.Loader.__mro__[1] is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_paths_under_a_symlinked_outputs_folder_stay_project_relative(tmp_path):
    elsewhere = tmp_path / "big-disk"
    elsewhere.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "outputs").symlink_to(elsewhere, target_is_directory=True)
    config = load_config(root)
    assert config.rel(config.outputs_dir / "launch/intro.mp4") == "outputs/launch/intro.mp4"


@pytest.mark.parametrize("text, line, where", [
    ("budget: {max_renders: -1}\n", 1, "budget.max_renders: must be between"),
    ("x: 1\nbudget:\n  max_tts_chars: lots\n", 3, "budget.max_tts_chars: must be a whole number"),
    ("providers:\n  unisound:\n    price: {per_render: 1, dollars: 2}\n", 3, "providers.unisound.price.dollars: unknown key"),
    ("notify:\n  - {url_env: HOOK, format: teams}\n", 2, "notify.0.format: must be one of: json, feishu"),
    ("notify:\n  - {url_env: 'https://hooks.example/x'}\n", 2, "notify.0.url_env: must be the name of an environment"),
    ("notify:\n  - {url_env: HOOK, on: [finished, exploded]}\n", 2, "notify.0.on: must be a list of"),
])
def test_budget_price_and_notify_errors_name_their_line(tmp_path, text, line, where):
    message = error_of(write(tmp_path, text))
    assert f"reconciler.yaml:{line}: {where}" in message


def test_budget_price_and_notify_are_read(tmp_path):
    write(tmp_path, "budget: {max_renders: 50}\nnotify:\n  - {url_env: FEISHU_HOOK, format: feishu, on: [failed]}\n"
                    "providers:\n  xingyun: {price: {per_render: 1.5, currency: CNY}}\n")
    config = load_config(tmp_path)
    assert config.file.budget == config_mod.Budget(max_renders=50)
    assert config.file.notify == (config_mod.Notify("FEISHU_HOOK", "feishu", ("failed",)),)
    assert config.provider_settings("xingyun").price == config_mod.Price(per_render=1.5, currency="CNY")
    assert config.has_prices and config.provider_settings("unisound").price is None
