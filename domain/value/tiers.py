"""The four value tiers and the rules that place a customer in one, with their reasons.

The rules, in order (the first that applies wins):
1. negative — contribution below zero;
2. high — contribution above zero and at least the period's cut-off: the contribution of the
   customer at the cut-off rank, ceil(customers × high share) (default top 20 %); customers
   tied with the cut-off are all high;
3. potential — contribution rising over the last three periods (strictly, each scored), or a
   corporate customer in its growth stage;
4. low — everyone else.

Scoring applies the same rules set-based in SQL (api/db/value_scoring.py); a test checks that
this function and the SQL agree for every customer of a scored bank.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.errors import InvalidInput

DEFAULT_HIGH_SHARE = Decimal("0.20")


class ValueTier(enum.StrEnum):
    NEGATIVE = "negative"  # 负值
    LOW = "low"  # 低价值
    POTENTIAL = "potential"  # 有潜在价值
    HIGH = "high"  # 高价值


class TierRule(enum.StrEnum):
    BELOW_ZERO = "below_zero"
    TOP_SHARE = "top_share"
    RISING_CONTRIBUTION = "rising_contribution"
    CORPORATE_GROWTH = "corporate_growth"
    OTHERWISE = "otherwise"


class Trend(enum.StrEnum):
    RISING = "rising"
    FALLING = "falling"
    FLAT = "flat"
    NEW = "new"  # no earlier period scored


@dataclass(frozen=True, slots=True)
class TierReason:
    rule: TierRule
    message: str


@dataclass(frozen=True, slots=True)
class TierFacts:
    """What the rules look at for one customer and period."""

    contribution: Decimal
    previous: Decimal | None  # the period before
    prior: Decimal | None  # two periods before
    corporate_growth: bool


@dataclass(frozen=True, slots=True)
class Cutoff:
    """The period's high-value cut-off, fixed when the whole bank was scored."""

    period: date
    customers: int
    high_share: Decimal
    contribution: Decimal | None  # None when nobody was scored


def check_high_share(share: Decimal) -> None:
    if not share.is_finite() or share <= 0 or share >= 1:
        raise InvalidInput("highShare", "the high-value share is a fraction above 0 and below 1")


def cutoff_rank(customers: int, share: Decimal) -> int:
    """Rank (1 = largest contribution) of the last customer inside the top share."""
    if customers <= 0:
        return 0
    return max(1, math.ceil(customers * share))


def rising(facts: TierFacts) -> bool:
    return (
        facts.previous is not None
        and facts.prior is not None
        and facts.prior < facts.previous < facts.contribution
    )


def trend(contribution: Decimal, previous: Decimal | None) -> Trend:
    if previous is None:
        return Trend.NEW
    if contribution > previous:
        return Trend.RISING
    if contribution < previous:
        return Trend.FALLING
    return Trend.FLAT


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _share(share: Decimal) -> str:
    return f"{(share * 100).normalize():f} %"


def classify(facts: TierFacts, cutoff: Cutoff) -> tuple[ValueTier, tuple[TierReason, ...]]:
    """The tier and why, in words an RM can check against the figures."""
    month = cutoff.period.strftime("%Y-%m")
    c = facts.contribution
    if c < 0:
        return ValueTier.NEGATIVE, (
            TierReason(TierRule.BELOW_ZERO, f"contribution {_money(c)} CNY is below zero"),
        )
    top = _share(cutoff.high_share)
    if c > 0 and cutoff.contribution is not None and c >= cutoff.contribution:
        return ValueTier.HIGH, (
            TierReason(
                TierRule.TOP_SHARE,
                f"contribution {_money(c)} CNY is at least {_money(cutoff.contribution)} CNY, the "
                f"cut-off for the top {top} of {cutoff.customers:,} customers in {month}",
            ),
        )
    reasons: list[TierReason] = []
    if rising(facts):
        assert facts.prior is not None
        assert facts.previous is not None
        reasons.append(
            TierReason(
                TierRule.RISING_CONTRIBUTION,
                f"contribution rose over three periods: {_money(facts.prior)} → "
                f"{_money(facts.previous)} → {_money(c)} CNY",
            )
        )
    if facts.corporate_growth:
        reasons.append(
            TierReason(TierRule.CORPORATE_GROWTH, "a corporate customer in its growth stage")
        )
    if reasons:
        return ValueTier.POTENTIAL, tuple(reasons)
    below = (
        "no customer reached a positive cut-off"
        if cutoff.contribution is None
        else f"below the top-{top} cut-off {_money(cutoff.contribution)} CNY"
    )
    if c == 0:
        below = "zero contribution is never high value"
    return ValueTier.LOW, (
        TierReason(
            TierRule.OTHERWISE,
            f"contribution {_money(c)} CNY: {below}, and not rising over three periods",
        ),
    )
