"""What the renders on the review page cost, when prices are set (docs/budget.md).

Why a module of its own: the page turns the task history into money (each paid render
at its vendor's ``price``: per render plus per 1,000 characters of its script), which is
plain data work a test checks without HTML. The formula is ``planning.budget.amount``,
the one that prices a plan; this module only finds what to feed it: which renders were
paid (``cards`` decides, from the history) and how many characters each one spoke.

A render is priced at the script it was sent with, read from its own attempt row (the
request each attempt sent, recorded since schema 5 and filled in for older rows by the
migration), never from a video's current spec or row: a delete, an edit, a render
served from the cache or a refused create changes no figure; only a paid render does.
A render whose script the state never had (history older than the upgrade, of a video
already deleted then) is counted at the price per render only, and the page says so.
Money is exact (``planning.budget``: ``Decimal``), rounded once where it is shown, so
the figures do not depend on the order of the history either.

Nothing here runs, and nothing about money is shown, when no vendor has a price.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler import model
from reconciler.model import RecordedVideo
from reconciler.planning import budget
from reconciler.specs import schema


@dataclass(frozen=True)
class VendorSpent:
    """Spent at one priced vendor: every paid render in the history, deleted videos' too."""

    provider: str
    display: str
    renders: int
    tts_chars: int
    money: str  # "12.40 CNY"
    unknown_scripts: int  # renders counted without their speech (script no longer recorded)


@dataclass(frozen=True)
class Spent:
    by_vendor: tuple[VendorSpent, ...]
    total: str  # "12.40 CNY + 3.00 USD"
    per_video: dict[str, str]  # address -> money of its paid renders (videos of priced vendors only)


def spent(config, recorded: dict[str, RecordedVideo], attempts: list[dict]) -> Spent | None:
    """Money spent on every paid render of the history, per vendor and per video; None
    when no vendor has a price."""
    prices = {name: config.provider_settings(name).price for name in model.VENDORS}
    prices = {name: p for name, p in prices.items() if p is not None}
    if not prices:
        return None
    renders: dict[str, int] = {}
    chars: dict[str, int] = {}
    unknown: dict[str, int] = {}
    per_video = {address: {prices[v.provider].currency: budget.ZERO}
                 for address, v in recorded.items() if v.provider in prices}
    for row in attempts:
        price = prices.get(row["provider"])
        if price is None or not paid(row):
            continue
        provider = row["provider"]
        request = _json(row.get("request"))  # what this render was sent: its own, never a video's now
        request = request if isinstance(request, dict) else None
        n = schema.tts_chars(request)
        renders[provider] = renders.get(provider, 0) + 1
        chars[provider] = chars.get(provider, 0) + n
        unknown[provider] = unknown.get(provider, 0) + (request is None)
        video = per_video.setdefault(row["address"], {})
        video[price.currency] = video.get(price.currency, budget.ZERO) + budget.amount(price, 1, n)
    by_vendor, total = [], {}
    for provider, price in prices.items():
        money = budget.amount(price, renders.get(provider, 0), chars.get(provider, 0))  # exact: the sum of its renders
        total[price.currency] = total.get(price.currency, budget.ZERO) + money
        by_vendor.append(VendorSpent(provider, model.display_name(provider), renders.get(provider, 0),
                                     chars.get(provider, 0), budget.money_text({price.currency: money}),
                                     unknown.get(provider, 0)))
    return Spent(tuple(by_vendor), budget.money_text(total),
                 {address: budget.money_text(per_video[address]) for address in recorded if address in per_video})


def paid(row: dict) -> bool:
    """A create the vendor accepted (it answered with a task id): a render that was paid."""
    return row["status"] != "not_sent" and bool(row["task_id"])


def _json(value):
    """A JSON column as read from either backend (text, or already parsed); None if unreadable."""
    if isinstance(value, (dict, list)) or value is None:
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None
