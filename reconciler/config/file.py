"""What ``reconciler.yaml`` may say: its settings as plain data (``ConfigFile`` and its
parts) and the checks that turn a parsed file into them.

Why a module of its own: the checks are most of the configuration's code and change
with every new key, while ``Config`` (the project's paths, the environment's
credentials and endpoints) changes rarely. Every problem is collected with the key it is
about (``_Problems``), so one run names every wrong line of the file.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from reconciler.model import AUTH_KEYS, AUTH_PLACES, VENDORS, UnisoundAuth
from reconciler.util import s3url, urls


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
    """``budget``: the most one plan may start (docs/budget.md); None means no limit."""

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


# ``providers:`` of reconciler.yaml: one ProviderSettings per vendor, keyed by its name
# (``model.VENDORS``); a vendor the file does not mention has its defaults.
ProvidersSettings = dict[str, ProviderSettings]


def provider_defaults(name: str) -> ProviderSettings:
    """The settings of ``providers.<name>`` that the file does not change: the vendor's
    endpoint (``model.VENDORS``), and its own keys' defaults (``PROVIDER_ONLY_KEYS``)."""
    auth = UnisoundAuth() if "auth_in" in PROVIDER_ONLY_KEYS.get(name, ()) else None
    return ProviderSettings(endpoint=VENDORS[name].default_endpoint, auth=auth)


def _default_providers() -> ProvidersSettings:
    return {name: provider_defaults(name) for name in VENDORS}


@dataclass(frozen=True)
class ConfigFile:
    """The settings of reconciler.yaml. Checked by hand (``_check_file``) rather than
    by pydantic: a warm ``plan`` must not pay ~80 ms to import it for ten keys."""

    specs: str = "specs"
    vars: list[str] | None = None
    state: str = "state/reconciler.db"
    state_schema: str = "reconciler"  # docs/team.md: the PostgreSQL schema of this project's state
    manifest: str = "state/manifest.json"
    outputs: str = "outputs"  # a folder, or s3://bucket/prefix (docs/outputs.md)
    outputs_public_url: str | None = None  # e.g. https://cdn.example.com/videos: the manifest's `url` per video
    keep_deleted_outputs: bool = False  # true: a delete drops the video from the manifest, keeps its objects
    parallelism: int = 8
    max_delete_share: float | None = None
    cache_keep_days: int = 30  # docs/cache.md: unused cached renders kept this long
    providers: ProvidersSettings = dataclasses.field(default_factory=_default_providers)
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
    pdata = _check_mapping(problems, ("providers",), data.get("providers", {}), set(VENDORS))
    providers = {name: _check_provider(problems, name, pdata.get(name, {}), default)
                 for name, default in d.providers.items()}
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


def _url_password(url: str) -> str | None:
    """The password a URL carries (in its user part, as written, or as ``?password=``), if
    any (``util.urls``: the last ``@`` ends the user part, as a person pasting one means)."""
    if not urls.has_scheme(url):
        return None
    try:
        parsed = urls.parse(url)
    except urls.UrlError:
        userinfo = url.split("://", 1)[1].rpartition("@")[0]
        return userinfo.partition(":")[2] or None
    if parsed.password:
        return parsed.userinfo.partition(":")[2]
    match = re.search(r"(?:^|&)password=([^&]+)", parsed.query)
    return match.group(1) if match else None
