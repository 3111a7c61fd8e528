"""The vendor checks of ``reconciler doctor``: reachable, authenticated, clock in step.

Why a module of its own: these are the only checks that talk to the network, and the
one that searches. Each vendor gets one free authenticated call that can never start a
render (``providers.probe``): Xingyun ``get_render_task`` for a task id that cannot
exist (30004 means authentication passed), Unisound ``progress`` for a made-up task id
(23910 means it passed). The answer's ``Date`` header gives the clock skew, the call
its round trip.

Unisound's document never says where ``appKey``, ``timestamp`` and ``signature`` go,
so when its probe is refused (23902/23908) every other placement and spelling is tried
(query, JSON body, headers; ``appKey``/``appkey``, ``timestamp``/``time``,
``signature``/``sign``) and the ``reconciler.yaml`` lines of the one that works are the
fix. Every message names variables, never their values; no signature is ever shown.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

from reconciler.doctor.result import ERROR, OK, WARNING, Check
from reconciler.model import VENDORS
from reconciler.util import urls

CLOCK_OK = 10.0  # seconds of skew that need no comment
PLACEMENT_CODES = frozenset({23902, 23908})  # Unisound: refused before the task lookup
CLOCK_FIX = "Fix the system clock: enable NTP (e.g. `sudo timedatectl set-ntp true`), then run doctor again."


def check_vendor(config, name: str, env: Mapping[str, str]) -> list[Check]:
    """The reachability/authentication check and the clock check of vendor ``name``."""
    return asyncio.run(_check_vendor(config, name, env))


async def _check_vendor(config, name: str, env: Mapping[str, str]) -> list[Check]:
    from reconciler.providers import make_provider, probe

    provider = make_provider(name, config, env=env)
    where = _where(config, name, env)
    try:
        result = await provider.probe()
        if result.outcome == probe.UNREACHABLE:
            return [Check(f"{name} api", ERROR, f"cannot reach {where}: {result.detail}",
                          _endpoint_fix(config, name, env))]
        if result.outcome == probe.NOT_THE_API:
            return [Check(f"{name} api", ERROR, f"{where} answered {result.detail}: not the {name} API there",
                          _endpoint_fix(config, name, env))]
        rtt = f"{result.rtt * 1000:.0f} ms round trip"
        if result.authenticated:
            extra = f"; auth {_describe(provider.auth)}" if name == "unisound" else ""
            api = Check(f"{name} api", OK, f"{where} reachable, credentials and signature accepted ({rtt}){extra}")
        elif name == "unisound" and result.code in PLACEMENT_CODES:
            api = await _search_placement(provider, where, result)
        else:
            api = _refused(name, where, result, env)
        return [api, _clock(name, result.skew)]
    finally:
        await provider.aclose()


def _refused(name: str, where: str, result, env: Mapping[str, str]) -> Check:
    """A vendor code other than not-found: an auth code is an error to fix; any other
    code came after authentication passed (the vendors check it first), so it is only
    worth a look."""
    from reconciler.providers import codes

    kind, _what, todo = codes.lookup(name, result.code)
    if kind != codes.AUTH:
        return Check(f"{name} api", WARNING,
                     f"{where} accepted the credentials but answered the free call with {result.detail} "
                     "instead of \"not found\"",
                     "Renders may still work; if apply fails, send this answer to the reconciler maintainers.")
    vendor = VENDORS[name]
    unset = "" if env.get(vendor.env_app_id) or env.get(vendor.env_secret) else (
        f"{vendor.env_app_id} and {vendor.env_secret} are unset, so the simulator's defaults were sent: "
        "export the account's. ")
    fix = unset + todo + (" " + CLOCK_FIX if _skewed(name, result.skew) and result.code in codes.CLOCK_SENSITIVE else "")
    return Check(f"{name} api", ERROR, f"{where} refused the free authenticated call: {result.detail}", fix)


async def _search_placement(provider, where: str, first) -> Check:
    """Try every other Unisound auth placement and spelling; the first accepted is the fix."""
    from reconciler.providers import probe, signing

    configured = provider.auth
    seen = {first.code}
    for candidate in signing.unisound_auth_candidates():
        if candidate == configured:
            continue
        result = await provider.probe(auth=candidate)
        if result.authenticated:
            return Check("unisound api", ERROR,
                         f"{where} refuses the auth values {_describe(configured)} ({first.detail}) "
                         f"but accepts them {_describe(candidate)}",
                         "Set these in reconciler.yaml (merged into its `providers:` block), then run doctor again:\n" + config_lines(candidate))
        if result.outcome != probe.REACHED:
            break
        seen.add(result.code)
    if 23902 in seen:
        what = "the appkey is known but no signature was accepted in any placement or spelling"
        fix = "Check UNISOUND_SECRET (and the clock). " + CLOCK_FIX.split(":")[0] + " if it is off."
    else:
        what = "no placement or spelling of the auth values was accepted (the appkey is unknown everywhere)"
        fix = "Check UNISOUND_APPKEY against the Unisound console (the app's appKey)."
    return Check("unisound api", ERROR, f"{where}: {first.detail}; {what}", fix)


def _clock(name: str, skew: float | None) -> Check:
    if skew is None:
        return Check(f"{name} clock", WARNING, "the server sent no Date header: the clock could not be compared",
                     "Make sure the system clock is synchronised (NTP).")
    side = "ahead of" if skew > 0 else "behind"
    off = f"the local clock is {abs(skew):.0f} s {side} the server's"
    if abs(skew) <= CLOCK_OK:
        return Check(f"{name} clock", OK, f"within {max(abs(skew), 1):.0f} s of the server's Date")
    if _skewed(name, skew):
        return Check(f"{name} clock", ERROR, f"{off}: signed calls expire after {VENDORS[name].clock_window:.0f} s",
                     CLOCK_FIX)
    return Check(f"{name} clock", WARNING, f"{off} (calls are refused beyond {VENDORS[name].clock_window:.0f} s)", CLOCK_FIX)


def _skewed(name: str, skew: float | None) -> bool:
    return skew is not None and abs(skew) > VENDORS[name].clock_window


def config_lines(auth) -> str:
    """The ``reconciler.yaml`` lines that select this Unisound auth placement and spelling."""
    names = ", ".join(f"{k}: {v}" for k, v in auth.names().items())
    return f"providers:\n  unisound:\n    auth_in: {auth.place}\n    auth_names: {{{names}}}"


def _describe(auth) -> str:
    where = {"query": "as query parameters", "body": "in the JSON body", "header": "as headers"}[auth.place]
    return f"{where} {auth.appkey}/{auth.timestamp}/{auth.signature}"


def _where(config, name: str, env: Mapping[str, str]) -> str:
    endpoint = config.endpoint(name, env)
    return "the built-in simulator" if endpoint == "sim" else urls.redact(endpoint)


def _endpoint_fix(config, name: str, env: Mapping[str, str]) -> str:
    var, default = VENDORS[name].env_endpoint, VENDORS[name].default_endpoint
    if env.get(var):
        return (f"{var} is set (it beats reconciler.yaml): set it to the vendor's base URL "
                f"(default {default}) or unset it.")
    return (f"Set `providers.{name}.endpoint` in reconciler.yaml to the vendor's base URL (default {default}), "
            f"or export {var}=...; check the network and any proxy.")
