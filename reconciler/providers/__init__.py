"""Vendor clients behind the ``Provider`` seam (``providers/base.py``).

``make_provider(name, config)`` is the one way the rest of reconciler gets a provider:
it reads the credentials from the environment (via ``Config.credentials``), the
timeout and concurrency from ``reconciler.yaml``, and, for ``endpoint: sim``, starts
the built-in simulator once per process and points the provider at it.

Modules: ``signing`` (signatures), ``codes`` (vendor error codes and their messages),
``errors_map`` (classification into transient / permanent / outcome-unknown),
``retry`` (bounded backoff), ``http`` (the one request path), ``download`` (atomic,
checked downloads), ``xingyun`` and ``unisound`` (the wire formats), ``local_sim``.

Importing this package is cheap: nothing heavy (httpx) and nothing from ``config``
is imported until a provider is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Mapping

from reconciler.errors import ConfigError
from reconciler.model import VENDORS

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from reconciler.config import Config

    from .base import Provider
    from .retry import RetryPolicy



def make_provider(name: str, config: Config, *, env: Mapping[str, str] | None = None,
                  client: httpx.AsyncClient | None = None, policy: RetryPolicy | None = None) -> Provider:
    """Build the provider ``name`` from ``config`` and the environment.

    ``client`` injects an ``httpx.AsyncClient`` (tests); ``policy`` overrides the retry
    policy (tests, or a caller that wants fewer attempts). Raises ConfigError for an
    unknown provider or missing credentials."""
    if name not in VENDORS:
        raise ConfigError(f"unknown provider {name!r} (known: {', '.join(VENDORS)})")
    from reconciler.config import is_loopback
    from reconciler.model import Credentials

    from . import local_sim

    creds = config.credentials(name, env)
    if creds.endpoint == "sim":
        creds = Credentials(endpoint=local_sim.sim_url(config, env), app_id=creds.app_id, secret=creds.secret)
    settings = config.provider_settings(name)
    options = {"trust_env": not is_loopback(creds.endpoint)}  # no proxy between us and a local sim
    if settings.auth is not None:
        options["auth"] = settings.auth
    if policy is not None:
        options["policy"] = policy
    return _client_class(name)(creds, timeout=settings.timeout, concurrency=settings.concurrency, client=client, **options)


def _client_class(name: str) -> type:
    """The client class ``model.VENDORS`` names for ``name`` (``module:Class``), imported."""
    module, _, cls = VENDORS[name].client.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def __getattr__(attr: str):
    """Lazy re-exports: ``XingyunProvider``, ``UnisoundProvider``, ``RetryPolicy``."""
    for name, vendor in VENDORS.items():
        if attr == vendor.client.partition(":")[2]:
            return _client_class(name)
    if attr == "RetryPolicy":
        return importlib.import_module(f"{__name__}.retry").RetryPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = ["make_provider", "XingyunProvider", "UnisoundProvider", "RetryPolicy"]
