"""The budget (docs/budget.md) and the estimate in money: what a plan may start, what it costs.

Renders are slow and paid, so a plan that would start more renders or speak more TTS
characters than ``budget:`` allows is refused (``PlanError``: exit 1, nothing sent)
unless ``--allow-over-budget``. The figures are the plan's own estimate
(``Plan.renders`` / ``Plan.tts_chars``), so whatever lowers it (a render served from
the cache) lowers what is counted here too. Prices (``providers.<vendor>.price``) only
describe: they turn the estimate into money per currency and are never enforced.
Pure and cheap: imported by ``plan`` only when a budget or a price is configured.

Money is exact: ``Decimal`` from the prices as written, summed exactly, and rounded to
cents once, where it is shown (``rounded``, half up). A figure therefore never depends
on the order its parts were added in, and a total is the exact sum of the parts shown
beside it before rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from reconciler.config import Budget, Config, Price
from reconciler.errors import PlanError
from reconciler.model import VENDORS, Plan


class OverBudgetError(PlanError):
    """A plan over ``budget:``; ``figures`` names each figure over its limit."""

    def __init__(self, message: str, figures: tuple[str, ...]):
        super().__init__(message)
        self.figures = figures


def over_budget(plan: Plan, budget: Budget | None) -> list[str]:
    """Each figure over its limit, in words ([] when within budget or none is set)."""
    if budget is None:
        return []
    out = []
    if budget.max_renders is not None and plan.renders > budget.max_renders:
        out.append(f"{plan.renders} renders > budget.max_renders {budget.max_renders}")
    if budget.max_tts_chars is not None and plan.tts_chars > budget.max_tts_chars:
        out.append(f"{plan.tts_chars} TTS characters > budget.max_tts_chars {budget.max_tts_chars}")
    return out


def refusal(plan: Plan, budget: Budget | None, *, allow_over_budget: bool) -> OverBudgetError | None:
    """The OverBudgetError a plan over budget is refused with (None when within budget or
    allowed): the caller shows the plan first, then raises it."""
    over = over_budget(plan, budget)
    if not over or allow_over_budget:
        return None
    return OverBudgetError(
        f"The plan is over budget: {'; '.join(over)} (reconciler.yaml). Nothing was sent. "
        "Render fewer videos (--target), raise the budget, or run again with --allow-over-budget.",
        tuple(over))


def enforce(plan: Plan, budget: Budget | None, *, allow_over_budget: bool) -> None:
    """Raise OverBudgetError for a plan over budget, unless allowed."""
    refused = refusal(plan, budget, allow_over_budget=allow_over_budget)
    if refused is not None:
        raise refused


@dataclass(frozen=True)
class Cost:
    """What the renderings of a plan show beside its estimate: the limits and the money."""

    budget: Budget | None
    money: dict[str, Decimal]  # per currency, exact; {} when no vendor has a price
    over: tuple[str, ...] = ()  # each figure over its limit (``over_budget``), allowed or not

    @classmethod
    def of(cls, plan: Plan, config: Config) -> Cost:
        return cls(config.file.budget, money(plan, config), tuple(over_budget(plan, config.file.budget)))

    @property
    def money_text(self) -> str:
        return money_text(self.money)

    def limits_text(self) -> str:
        """``50 renders, 200,000 TTS characters`` (the limits that are set)."""
        b = self.budget
        if b is None:
            return ""
        parts = []
        if b.max_renders is not None:
            parts.append(f"{b.max_renders:,} renders")
        if b.max_tts_chars is not None:
            parts.append(f"{b.max_tts_chars:,} TTS characters")
        return ", ".join(parts)


def money(plan: Plan, config: Config) -> dict[str, Decimal]:
    """The estimate in money, per currency ({} when no vendor has a price): each
    vendor's part of the plan times its price."""
    totals: dict[str, Decimal] = {}
    for name in VENDORS:
        price = config.provider_settings(name).price
        if price is None:
            continue
        part = Plan(tuple(c for c in plan.changes if c.provider == name))
        totals[price.currency] = totals.get(price.currency, ZERO) + amount(price, part.renders, part.tts_chars)
    return totals


ZERO = Decimal(0)
CENT = Decimal("0.01")


def amount(price: Price, renders: int, tts_chars: int) -> Decimal:
    """What ``renders`` renders speaking ``tts_chars`` characters cost at ``price``, exactly:
    the one formula of money, used for a plan's estimate and for what the gallery shows as
    spent. A price is taken as written (``0.3`` is three tenths, not the nearest binary
    fraction), so sums of amounts are exact and their order does not matter."""
    per_render, per_1000 = (Decimal(str(p)) for p in (price.per_render, price.per_1000_chars))
    return renders * per_render + tts_chars * per_1000 / 1000


def rounded(value: Decimal) -> Decimal:
    """``value`` in cents, half up: the one rounding of money, where it is shown."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(totals: dict[str, Decimal]) -> str:
    """``4.50 CNY + 1.20 USD`` (a price without a currency is shown bare)."""
    return " + ".join(f"{rounded(amount):,.2f}{' ' + currency if currency else ''}"
                      for currency, amount in sorted(totals.items()))
