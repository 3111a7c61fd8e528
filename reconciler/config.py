"""Project configuration: ``reconciler.yaml`` plus the environment (CONTRACT §1).

The file is optional and every key has a default. It is parsed once, by the spec
loader's ``yamlio`` (YAML 1.2 scalars: ``on`` stays a string; duplicate keys and
alias bombs are errors), and checked by hand against the tables below; unknown keys,
wrong types, non-finite numbers and bytes that are not UTF-8 are errors that name the
file and line. Per-provider keys are declared once, in ``PROVIDER_KEYS`` (and
``PROVIDER_ONLY_KEYS``). Credentials and endpoint overrides come from the environment only
(environment beats the file); they are read by ``credentials()`` at the moment a
provider is built, and never stored on the Config object, so a Config can be logged,
hashed into a plan file or cached without carrying a secret.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from reconciler.util import readfile, s3url, yamlio
from reconciler.errors import ConfigError
from reconciler.model import AUTH_KEYS, AUTH_PLACES, VENDORS, Credentials, UnisoundAuth

CONFIG_NAME = "reconciler.yaml"
DEFAULT_VARS = ("vars.yaml",)
SIM_APP_ID = "sim-app"
SIM_SECRET = "sim-secret"


@dataclass(frozen=True)
class ProviderSettings:
    endpoint: str
    concurrency: int | None = None  # None: the provider's default
    timeout: float = 30.0  # seconds, every call
    auth: UnisoundAuth | None = None  # unisound only: where its auth values go (auth_in, auth_names)
    stall_after: float = 3600.0  # seconds unfinished after which a render is reported stalled
    price: Price | None = None  # what a render and speech cost at this vendor (estimates only)


@dataclass(frozen=True)
class Price:
    """``providers.<vendor>.price``: turns a plan's estimate into money (never enforced)."""

    per_render: float = 0.0
    per_1000_chars: float = 0.0  # per 1,000 TTS characters
    currency: str = ""


@dataclass(frozen=True)
class Budget:
    """``budget``: the most one plan may start (CONTRACT §10); None means no limit."""

    max_renders: int | None = None
    max_tts_chars: int | None = None


NOTIFY_FORMATS = ("json", "feishu", "dingtalk", "wecom", "slack")
NOTIFY_EVENTS = ("finished", "failed", "unknown", "stalled", "budget")


@dataclass(frozen=True)
class Notify:
    """One ``notify`` entry: where (the *name* of the environment variable holding the
    webhook URL, a secret read only when sending), in which shape, for which events."""

    url_env: str
    format: str = "json"
    on: tuple[str, ...] = NOTIFY_EVENTS


STATE_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Key:
    """How one setting is checked: its kind (``str``, ``int``, ``number``), its range,
    and whether ``null`` is allowed (then it means "the default")."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    optional: bool = False


# The scalar keys of every ``providers.<vendor>``: add a key here *and* as a
# ProviderSettings field (same name, same default); ``_check_provider`` does the rest.
PROVIDER_KEYS: dict[str, Key] = {
    "endpoint": Key("str"),
    "concurrency": Key("int", 1, 100, optional=True),
    "timeout": Key("number", 0.1, 600),
    "stall_after": Key("number", 0.1, 30 * 86400),  # seconds unfinished before a render is reported stalled
}
# Keys only one vendor has, with structured values checked by their own function
# (Unisound's auth settings: ``_check_auth``).
PROVIDER_ONLY_KEYS: dict[str, tuple[str, ...]] = {"xingyun": (), "unisound": ("auth_in", "auth_names")}
# Structured keys every vendor has, each checked by its own function (``price``: ``_check_price``).
PROVIDER_STRUCTURED_KEYS: tuple[str, ...] = ("price",)


@dataclass(frozen=True)
class ProvidersSettings:
    xingyun: ProviderSettings = ProviderSettings(endpoint=VENDORS["xingyun"].default_endpoint)
    unisound: ProviderSettings = ProviderSettings(endpoint=VENDORS["unisound"].default_endpoint, auth=UnisoundAuth())


@dataclass(frozen=True)
class ConfigFile:
    """The settings of reconciler.yaml. Checked by hand (``_check_file``) rather than
    by pydantic: a warm ``plan`` must not pay ~80 ms to import it for ten keys."""

    specs: str = "specs"
    vars: list[str] | None = None
    state: str = "state/reconciler.db"
    state_schema: str = "reconciler"  # CONTRACT §8: the PostgreSQL schema of this project's state
    manifest: str = "state/manifest.json"
    outputs: str = "outputs"  # a folder, or s3://bucket/prefix (CONTRACT §9)
    outputs_public_url: str | None = None  # e.g. https://cdn.example.com/videos: the manifest's `url` per video
    keep_deleted_outputs: bool = False  # true: a delete drops the video from the manifest, keeps its objects
    parallelism: int = 8
    max_delete_share: float | None = None
    cache_keep_days: int = 30  # CONTRACT §11: unused cached renders kept this long
    providers: ProvidersSettings = ProvidersSettings()
    budget: Budget | None = None
    notify: tuple[Notify, ...] = ()

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Problems(list):
    def add(self, loc: tuple, message: str) -> None:
        self.append((loc, message))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_value(problems: _Problems, loc: tuple, value, kind: str, lo=None, hi=None, optional=False):
    """Check one scalar setting; returns it (or the default marker None) and notes problems."""
    if value is None and optional:
        return None
    ok = {
        "str": isinstance(value, str) and value != "",
        "int": _is_int(value),
        "number": (_is_int(value) or isinstance(value, float)),
    }[kind]
    if not ok:
        problems.add(loc, {"str": "must be a non-empty string", "int": "must be a whole number",
                           "number": "must be a number"}[kind])
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.add(loc, f"must be a finite number, got {value}")
        return None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        problems.add(loc, f"must be between {lo} and {hi}")
        return None
    return value


def _check_mapping(problems: _Problems, loc: tuple, value, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        problems.add(loc, "must be a mapping")
        return {}
    for key in value:
        if key not in allowed:
            problems.add(loc + (key,), f"unknown key (known: {', '.join(sorted(allowed))})")
    return value


def _check_provider(problems: _Problems, name: str, value, default: ProviderSettings) -> ProviderSettings:
    """``providers.<name>`` checked against PROVIDER_KEYS (and the vendor's own keys)."""
    loc = ("providers", name)
    only = PROVIDER_ONLY_KEYS.get(name, ())
    data = _check_mapping(problems, loc, value, set(PROVIDER_KEYS) | set(only) | set(PROVIDER_STRUCTURED_KEYS))
    fields = {}
    for key, rule in PROVIDER_KEYS.items():
        fallback = getattr(default, key)
        checked = _check_value(problems, loc + (key,), data.get(key, fallback), rule.kind, rule.lo, rule.hi,
                               rule.optional)
        if checked is None:
            checked = fallback
        fields[key] = float(checked) if rule.kind == "number" and checked is not None else checked
    if default.auth is not None:  # unisound: auth_in, auth_names
        fields["auth"] = _check_auth(problems, loc, data, default.auth)
    if data.get("price") is not None:
        fields["price"] = _check_price(problems, loc + ("price",), data["price"])
    return ProviderSettings(**fields)


def _check_price(problems: _Problems, loc: tuple, value) -> Price:
    data = _check_mapping(problems, loc, value, {"per_render", "per_1000_chars", "currency"})
    amounts = {k: _check_value(problems, loc + (k,), data.get(k, 0), "number", 0, 1e9)
               for k in ("per_render", "per_1000_chars")}
    currency = _check_value(problems, loc + ("currency",), data.get("currency"), "str", optional=True)
    return Price(**{k: float(v or 0) for k, v in amounts.items()}, currency=currency or "")


def _check_budget(problems: _Problems, value) -> Budget | None:
    if value is None:
        return None
    data = _check_mapping(problems, ("budget",), value, {"max_renders", "max_tts_chars"})
    limits = {k: _check_value(problems, ("budget", k), data.get(k), "int", 0, 10**12, optional=True)
              for k in ("max_renders", "max_tts_chars")}
    return Budget(**limits)


def _check_notify(problems: _Problems, value) -> tuple[Notify, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(("notify",), "must be a list of {url_env, format, on}")
        return ()
    out = []
    for i, entry in enumerate(value):
        loc = ("notify", i)
        data = _check_mapping(problems, loc, entry, {"url_env", "format", "on"})
        if not data:
            continue
        url_env = _check_value(problems, loc + ("url_env",), data.get("url_env"), "str")
        if url_env is not None and not url_env.replace("_", "").isalnum():
            problems.add(loc + ("url_env",), "must be the name of an environment variable (not the URL itself)")
            url_env = None
        fmt = data.get("format", "json")
        if fmt not in NOTIFY_FORMATS:
            problems.add(loc + ("format",), f"must be one of: {', '.join(NOTIFY_FORMATS)}")
        on = data.get("on", list(NOTIFY_EVENTS))
        if not isinstance(on, list) or not on or any(e not in NOTIFY_EVENTS for e in on):
            problems.add(loc + ("on",), f"must be a list of: {', '.join(NOTIFY_EVENTS)}")
            on = list(NOTIFY_EVENTS)
        if url_env is not None and fmt in NOTIFY_FORMATS:
            out.append(Notify(url_env, fmt, tuple(on)))
    return tuple(out)


def _check_auth(problems: _Problems, loc: tuple, data: dict, default: UnisoundAuth) -> UnisoundAuth:
    """``auth_in`` (query | body | header) and ``auth_names`` ({appkey, timestamp,
    signature} -> the names sent) of the Unisound provider; see ``model.UnisoundAuth``."""
    place = data.get("auth_in", default.place)
    if place not in AUTH_PLACES:
        problems.add(loc + ("auth_in",), f"must be one of: {', '.join(AUTH_PLACES)}")
        place = default.place
    names = _check_mapping(problems, loc + ("auth_names",), data.get("auth_names", {}), set(AUTH_KEYS))
    picked = {k: _check_value(problems, loc + ("auth_names", k), names.get(k, v), "str")
              for k, v in default.names().items()}
    return UnisoundAuth(place, **{k: v or getattr(default, k) for k, v in picked.items()})


def _check_file(data: dict) -> tuple[ConfigFile, _Problems]:
    problems = _Problems()
    d = ConfigFile()
    _check_mapping(problems, (), data, {f.name for f in dataclasses.fields(ConfigFile)})
    strs = {k: _check_value(problems, (k,), data.get(k, getattr(d, k)), "str")
            for k in ("specs", "state", "manifest", "outputs")}
    schema = _check_value(problems, ("state_schema",), data.get("state_schema", d.state_schema), "str")
    if schema is not None and not STATE_SCHEMA.match(schema):
        problems.add(("state_schema",), "must be a PostgreSQL schema name: lower-case letters, digits and _, "
                                        "starting with a letter or _, at most 63 characters")
        schema = None
    if strs.get("state") and _url_password(strs["state"]):
        problems.add(("state",), "holds a password; keep it out of reconciler.yaml: set PGPASSWORD (or "
                                 "RECONCILER_STATE_URL with the password) in the environment")
    public_url = _check_outputs(problems, strs.get("outputs"), data)
    keep_deleted = data.get("keep_deleted_outputs", d.keep_deleted_outputs)
    if not isinstance(keep_deleted, bool):
        problems.add(("keep_deleted_outputs",), "must be true or false")
        keep_deleted = d.keep_deleted_outputs
    vars_ = data.get("vars")
    if vars_ is not None and (not isinstance(vars_, list) or not all(isinstance(v, str) and v for v in vars_)):
        problems.add(("vars",), "must be a list of file names")
        vars_ = None
    parallelism = _check_value(problems, ("parallelism",), data.get("parallelism", d.parallelism), "int", 1, 256)
    share = _check_value(problems, ("max_delete_share",), data.get("max_delete_share"), "number", 0, 1, True)
    keep = _check_value(problems, ("cache_keep_days",), data.get("cache_keep_days", d.cache_keep_days),
                        "int", 0, 36500)
    pdata = _check_mapping(problems, ("providers",), data.get("providers", {}),
                           {f.name for f in dataclasses.fields(ProvidersSettings)})
    providers = ProvidersSettings(
        xingyun=_check_provider(problems, "xingyun", pdata.get("xingyun", {}), d.providers.xingyun),
        unisound=_check_provider(problems, "unisound", pdata.get("unisound", {}), d.providers.unisound),
    )
    file = ConfigFile(**{k: v or getattr(d, k) for k, v in strs.items()}, vars=vars_,
                      state_schema=schema or d.state_schema, outputs_public_url=public_url,
                      keep_deleted_outputs=keep_deleted,
                      parallelism=parallelism or d.parallelism,
                      max_delete_share=None if share is None else float(share),
                      cache_keep_days=d.cache_keep_days if keep is None else keep, providers=providers,
                      budget=_check_budget(problems, data.get("budget")),
                      notify=_check_notify(problems, data.get("notify")))
    return file, problems


def _check_outputs(problems: _Problems, outputs: str | None, data: dict) -> str | None:
    """``outputs`` as a folder or ``s3://bucket/prefix`` (no credentials in it), and
    ``outputs_public_url`` (an http(s) base URL, only with a bucket); the latter returned."""
    if outputs and s3url.is_s3(outputs):
        try:
            s3url.parse(outputs)
        except s3url.S3UrlError as exc:
            problems.add(("outputs",), str(exc))
    elif outputs and "://" in outputs:
        problems.add(("outputs",), "must be a folder of the project or s3://BUCKET/PREFIX")
    public = data.get("outputs_public_url")
    if public is None:
        return None
    if not isinstance(public, str) or not re.match(r"^https?://[^/@\s]+(/\S*)?$", public):
        problems.add(("outputs_public_url",), "must be an http(s) base URL without credentials, "
                                              "e.g. https://cdn.example.com/videos")
        return None
    if not (outputs and s3url.is_s3(outputs)):
        problems.add(("outputs_public_url",), "needs `outputs: s3://BUCKET/PREFIX` (the public URL is the "
                                              "address of that bucket's prefix)")
        return None
    return public.rstrip("/")


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
        """The bucket and prefix of ``outputs: s3://...`` (CONTRACT §9), else None."""
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
        return getattr(self.file.providers, provider, None) or ProviderSettings(VENDORS[provider].default_endpoint)

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
        missing = [n for n, v in ((id_var, app_id), (secret_var, secret)) if not v]
        if missing:
            raise ConfigError(
                f"{provider}: set {' and '.join(missing)} in the environment to call {endpoint} "
                f"(or use `endpoint: sim` / {endpoint_var}=sim for the built-in simulator)"
            )
        return Credentials(endpoint=endpoint.rstrip("/"), app_id=app_id, secret=secret)


def secrets(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets set in the environment, ``{variable: value}``: the vendor secrets and
    the state database's password (``PGPASSWORD``, or one inside ``RECONCILER_STATE_URL``),
    the outputs bucket's secret (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
    what no plan file, log line or output may ever show."""
    env = os.environ if env is None else env
    found = {v.env_secret: env[v.env_secret] for v in VENDORS.values() if env.get(v.env_secret)}
    for name in ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if env.get(name):
            found[name] = env[name]
    url_password = _url_password(env.get("RECONCILER_STATE_URL") or "")
    if url_password:
        found["RECONCILER_STATE_URL"] = url_password
    return found


def _url_password(url: str) -> str | None:
    """The password a database URL carries (in its user part or as ``?password=``), if any."""
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
        if parts.password:
            return parts.password
    except ValueError:
        return None
    match = re.search(r"(?:^|&)password=([^&]+)", parts.query)
    return match.group(1) if match else None


def is_loopback(endpoint: str) -> bool:
    """Whether ``endpoint`` is on this machine's loopback (where only a simulator runs)."""
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _line_of(node, loc: tuple) -> int:
    """Best line (1-based) for a setting's location (a key path) in the composed YAML."""
    return max(yamlio.locate(node, loc)[0], 1)


def _is_default_vars(name: str) -> bool:
    """A missing vars file is fine only if it is a default one (CONTRACT §1), also when
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
