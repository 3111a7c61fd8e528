"""Project configuration: ``reconciler.yaml`` plus the environment (docs/config.md).

The file is optional and every key has a default. It is parsed once, by the spec
loader's ``yamlio`` (YAML 1.2 scalars: ``on`` stays a string; duplicate keys and
alias bombs are errors), and checked by hand (``config/file.py``: the settings and
their checks); unknown keys, wrong types, non-finite numbers and bytes that are not
UTF-8 are errors that name the file and line. Per-provider keys are declared once, in
``file.PROVIDER_KEYS`` (and ``file.PROVIDER_ONLY_KEYS``). Credentials and endpoint
overrides come from the environment only (environment beats the file); they are read by ``credentials()`` at the moment a
provider is built, and never stored on the Config object, so a Config can be logged,
hashed into a plan file or cached without carrying a secret.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from reconciler.config.file import (  # noqa: F401 - the settings are part of this package's interface
    NOTIFY_EVENTS,
    NOTIFY_FORMATS,
    PROVIDER_KEYS,
    PROVIDER_ONLY_KEYS,
    PROVIDER_STRUCTURED_KEYS,
    STATE_SCHEMA,
    Budget,
    ConfigFile,
    Key,
    Notify,
    Price,
    ProviderSettings,
    ProvidersSettings,
    _check_file,
    _url_password,
    provider_defaults,
)
from reconciler.errors import ConfigError
from reconciler.model import VENDORS, Credentials
from reconciler.util import readfile, s3url, urls, yamlio

CONFIG_NAME = "reconciler.yaml"
DEFAULT_VARS = ("vars.yaml",)
SIM_APP_ID = "sim-app"
SIM_SECRET = "sim-secret"


@dataclass(frozen=True)
class Config:
    root: Path  # absolute project root
    file: ConfigFile
    vars_files: tuple[Path, ...]  # absolute; only existing ones when they are the default
    # Where the inputs the specs name (decks) are read at apply time: the project root,
    # or under `watch --git-ref` the snapshot of the committed tree (watch/gitref.py).
    inputs_root: Path | None = None

    @property
    def inputs(self) -> Path:
        return self.inputs_root or self.root

    @property
    def specs_dir(self) -> Path:
        return self.root / self.file.specs

    @property
    def state_path(self) -> Path:
        return self.root / self.file.state

    @property
    def state_dir(self) -> Path:
        """The project's local state folder (simulator tasks, spec cache, deck copies):
        beside the SQLite file, or ``state/`` when the state lives in a database."""
        if "://" in self.file.state:
            return self.root / "state"
        return self.state_path.parent

    @property
    def manifest_path(self) -> Path:
        return self.root / self.file.manifest

    @property
    def outputs_dir(self) -> Path:
        """The local outputs folder (with outputs in a bucket: where they would be; unused)."""
        if self.outputs_location is not None:
            return self.root / "outputs"
        return self.root / self.file.outputs

    @property
    def outputs_location(self) -> s3url.Location | None:
        """The bucket and prefix of ``outputs: s3://...`` (docs/outputs.md), else None."""
        if not s3url.is_s3(self.file.outputs):
            return None
        return s3url.parse(self.file.outputs)

    @property
    def uploads_dir(self) -> Path:
        """Where a download for a bucket is staged and verified before its upload
        (kept there until an upload is confirmed), beside ``quarantine/``."""
        return self.state_dir / "uploads"

    @property
    def parallelism(self) -> int:
        return self.file.parallelism

    @property
    def max_delete_share(self) -> float | None:
        return self.file.max_delete_share

    def provider_settings(self, provider: str) -> ProviderSettings:
        """``providers.<provider>`` of reconciler.yaml (a vendor without a section of its
        own there gets the defaults of its ``model.VENDORS`` entry)."""
        return self.file.providers.get(provider) or provider_defaults(provider)

    @property
    def has_prices(self) -> bool:
        """Whether any vendor has ``price`` set (the plan then shows its estimate in money)."""
        return any(self.provider_settings(name).price is not None for name in VENDORS)

    def rel(self, path: Path) -> str:
        """Project-relative posix path (for messages, state and manifest).

        Lexical: symlinks are not resolved, so an ``outputs/`` that is a symlink to
        another disk still records ``outputs/<address>.mp4``, not an absolute path."""
        path = Path(os.path.normpath(os.path.join(self.root, path)))
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def digest(self) -> str:
        """sha256 of the effective settings: part of spec-cache and plan-file keys."""
        blob = json.dumps(self.file.as_dict(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def endpoint(self, provider: str, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        return env.get(VENDORS[provider].env_endpoint) or self.provider_settings(provider).endpoint

    def credentials(self, provider: str, env: Mapping[str, str] | None = None) -> Credentials:
        """Endpoint and credentials for ``provider``; environment beats the file.

        With ``endpoint: sim``, or an endpoint on this machine's loopback (a
        ``reconciler sim`` process), missing credentials default to the simulator's
        ``sim-app``/``sim-secret``; against any other endpoint they are required."""
        env = os.environ if env is None else env
        vendor = VENDORS[provider]
        endpoint_var, id_var, secret_var = vendor.env_endpoint, vendor.env_app_id, vendor.env_secret
        endpoint = self.endpoint(provider, env)
        app_id, secret = env.get(id_var), env.get(secret_var)
        if endpoint == "sim":
            return Credentials(endpoint="sim", app_id=app_id or SIM_APP_ID, secret=secret or SIM_SECRET)
        if not (app_id or secret) and is_loopback(endpoint):
            app_id, secret = SIM_APP_ID, SIM_SECRET
        check_endpoint(provider, endpoint, env)
        missing = [n for n, v in ((id_var, app_id), (secret_var, secret)) if not v]
        if missing:
            raise ConfigError(
                f"{provider}: set {' and '.join(missing)} in the environment to call {urls.redact(endpoint)} "
                f"(or use `endpoint: sim` / {endpoint_var}=sim for the built-in simulator)"
            )
        return Credentials(endpoint=endpoint.rstrip("/"), app_id=app_id, secret=secret)


def secrets(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets set in the environment, ``{variable: value}``: the vendor secrets and
    the state database's password (``PGPASSWORD``, or one inside ``RECONCILER_STATE_URL``; one
    inside ``AWS_ENDPOINT_URL`` too),
    the outputs bucket's secret (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
    what no plan file, log line or output may ever show."""
    env = os.environ if env is None else env
    found = {v.env_secret: env[v.env_secret] for v in VENDORS.values() if env.get(v.env_secret)}
    for name in ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if env.get(name):
            found[name] = env[name]
    for name in ("RECONCILER_STATE_URL", "AWS_ENDPOINT_URL"):
        url_password = _url_password(env.get(name) or "")
        if url_password:
            found[name] = url_password
    return found


def check_endpoint(provider: str, endpoint: str, env: Mapping[str, str]) -> None:
    """ConfigError naming where the endpoint was set (and quoting none of it) unless it is
    an http(s) URL with a host."""
    var = VENDORS[provider].env_endpoint
    where = f"{var} (environment)" if env.get(var) else f"reconciler.yaml: providers.{provider}.endpoint"
    try:
        parsed = urls.parse(endpoint)
    except urls.UrlError as exc:
        raise ConfigError(f"{provider}: {where}: {exc}; expected the vendor's base URL, e.g. "
                          f"{VENDORS[provider].default_endpoint} (or `sim`)") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"{provider}: {where}: not an http(s) URL with a host; expected the vendor's base URL, "
                          f"e.g. {VENDORS[provider].default_endpoint} (or `sim`)")
    if parsed.userinfo is not None:
        vendor = VENDORS[provider]
        raise ConfigError(f"{provider}: {where} holds a user part (credentials?): remove it; credentials go in "
                          f"{vendor.env_app_id} and {vendor.env_secret} in the environment")


def is_loopback(endpoint: str) -> bool:
    """Whether ``endpoint`` is on this machine's loopback (where only a simulator runs)."""
    try:
        host = urls.parse(endpoint).hostname
    except urls.UrlError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _line_of(node, loc: tuple) -> int:
    """Best line (1-based) for a setting's location (a key path) in the composed YAML."""
    return max(yamlio.locate(node, loc)[0], 1)


def setting_line(root: Path, loc: tuple) -> int:
    """Line (1-based; 1 when unknown) of a setting (a key path such as ``("notify", 0,
    "url_env")``) in ``root/reconciler.yaml``: for a message about a value the file names
    but the environment holds (``doctor``)."""
    try:
        _data, node = _read_file(root / CONFIG_NAME)
    except ConfigError:
        return 1
    return _line_of(node, loc)


def key_place(root: Path, key: str) -> str:
    """``reconciler.yaml:N`` of the top-level ``key`` for a message, or ``reconciler.yaml``
    alone where the file does not write it (or cannot be read)."""
    try:
        data, node = _read_file(root / CONFIG_NAME)
    except ConfigError:
        return CONFIG_NAME
    if not isinstance(data, dict) or key not in data:
        return CONFIG_NAME
    return f"{CONFIG_NAME}:{_line_of(node, (key,))}"


def _is_default_vars(name: str) -> bool:
    """A missing vars file is fine only if it is a default one (docs/config.md), also when
    reconciler.yaml spells the default out (``vars: [vars.yaml]``)."""
    return Path(name) in {Path(d) for d in DEFAULT_VARS}


def _read_file(path: Path) -> tuple[dict, object]:
    """The settings of reconciler.yaml ({} when there is none) and its YAML node tree."""
    try:
        raw = readfile.read_regular(path)
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise ConfigError(f"{CONFIG_NAME}: cannot read: {readfile.why(exc)}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{CONFIG_NAME}:{line}: not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    try:
        data, node = yamlio.load(text)
    except yamlio.YamlError as exc:
        raise ConfigError(f"{CONFIG_NAME}:{max(exc.line, 1)}: {exc.message}") from None
    if data is None:
        return {}, node
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_NAME}:1: expected a mapping of settings")
    return data, node


def load_config(root: Path) -> Config:
    """Read ``root/reconciler.yaml`` (optional) and return the effective Config."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError(f"{root}: no such project directory")
    data, node = _read_file(root / CONFIG_NAME)
    file, problems = _check_file(data)
    if problems:
        located = sorted((_line_of(node, loc), ".".join(map(str, loc)) or "(top)", msg) for loc, msg in problems)
        raise ConfigError("\n".join(f"{CONFIG_NAME}:{line}: {where}: {msg}" for line, where, msg in located))
    explicit = file.vars is not None
    names = file.vars if explicit else list(DEFAULT_VARS)
    vars_files = []
    for name in names:
        p = root / name
        if p.exists():
            vars_files.append(p)
        elif explicit and not _is_default_vars(name):
            raise ConfigError(f"{CONFIG_NAME}:{_line_of(node, ('vars',))}: vars: file {name} does not exist")
    return Config(root=root, file=file, vars_files=tuple(vars_files))
