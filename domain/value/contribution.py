"""Monthly contribution per customer: revenue − cost, with the lines it is made of.

Revenue per product held: the time-weighted average balance over the month × the product's
yearly margin ÷ 12, plus fees booked on its holdings (fund movements to `bank_fee`). Cost:
every interaction at its recorded cost (the channel's default cost when none was recorded),
plus the servicing cost of every holding open during the month. Amounts are CNY; balances in
other currencies are taken at face value (no exchange rates exist in quanjing yet).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from domain.errors import InvalidInput
from domain.interactions import Channel
from domain.value.rates import RateBook, RateChange
from domain.value.tiers import Cutoff, TierFacts, Trend, ValueTier, trend

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(text: str, field: str = "period") -> date:
    """ "2026-10" → 2026-10-01 (a period is a calendar month)."""
    match = _PERIOD.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise InvalidInput(field, "a period is a month written YYYY-MM, e.g. 2026-10")
    return date(int(match.group(1)), int(match.group(2)), 1)


def format_period(period: date) -> str:
    return period.strftime("%Y-%m")


def shift_period(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class ProductLine:
    """Revenue and servicing cost of one product a customer held during the month."""

    product_id: int
    holdings: int
    average_balance: Decimal
    margin_rate: Decimal
    margin_revenue: Decimal
    fee_revenue: Decimal
    servicing_cost: Decimal


@dataclass(frozen=True, slots=True)
class ChannelLine:
    """What serving a customer through one channel cost during the month."""

    channel: Channel
    interactions: int
    recorded_cost: Decimal
    defaulted: int  # interactions without a recorded cost, charged at unit_cost
    unit_cost: Decimal
    cost: Decimal


@dataclass(frozen=True, slots=True)
class CustomerValue:
    period: date
    customer_id: int
    margin_revenue: Decimal
    fee_revenue: Decimal
    interaction_cost: Decimal
    servicing_cost: Decimal
    contribution: Decimal
    previous: Decimal | None
    prior: Decimal | None
    corporate_growth: bool
    tier: ValueTier
    scored_at: datetime

    @property
    def revenue(self) -> Decimal:
        return self.margin_revenue + self.fee_revenue

    @property
    def cost(self) -> Decimal:
        return self.interaction_cost + self.servicing_cost

    @property
    def trend(self) -> Trend:
        return trend(self.contribution, self.previous)

    @property
    def facts(self) -> TierFacts:
        return TierFacts(
            contribution=self.contribution,
            previous=self.previous,
            prior=self.prior,
            corporate_growth=self.corporate_growth,
        )


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    period: date
    customers: int
    tiers: dict[ValueTier, int]
    cutoff: Decimal | None
    seconds: float


class ValueStore(Protocol):
    async def score(self, period: date, high_share: Decimal) -> ScoreSummary:
        """Score every customer for the month, set-based, and fix the period's cut-off."""
        ...

    async def rescore(self, period: date, customer_ids: Sequence[int]) -> int:
        """Score these customers again against the stored cut-off; 0 if the period was
        never scored. Returns how many were rescored."""
        ...

    async def values(
        self, customer_ids: Sequence[int], period: date | None
    ) -> dict[int, CustomerValue]:
        """The customers' scores for the period (the latest scored period when None)."""
        ...

    async def cutoff(self, period: date) -> Cutoff | None: ...

    async def product_lines(self, customer_id: int, period: date) -> list[ProductLine]: ...

    async def channel_lines(self, customer_id: int, period: date) -> list[ChannelLine]: ...

    async def cutoffs(self, periods: Sequence[date]) -> dict[date, Cutoff]: ...

    async def rates(self) -> RateBook: ...

    async def set_rate(self, change: RateChange, actor: str) -> RateBook:
        """Apply the change (NotFound for an unknown product) and return the book."""
        ...
