"""The value report: the Pareto curve, tiers, tier migration, and what negative-value
customers' contacts cost with cheaper channels to suggest. Aggregates only: no customer is
named, so analysts may read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from domain.access.principal import Principal, Role
from domain.errors import Forbidden
from domain.interactions import Channel
from domain.value.rates import SELF_SERVICE_CHANNELS
from domain.value.tiers import ValueTier

PARETO_SHARES = (Decimal("0.01"), Decimal("0.05"), Decimal("0.10"), Decimal("0.20"))


@dataclass(frozen=True, slots=True)
class ParetoPoint:
    top_share: Decimal  # 0.20: the top 20 % of customers by contribution
    customers: int  # ceil(all customers × top_share)
    contribution: Decimal  # what those customers contribute
    share_of_total: Decimal | None  # contribution ÷ the total; None when the total is ≤ 0


@dataclass(frozen=True, slots=True)
class TierSlice:
    tier: ValueTier
    customers: int
    contribution: Decimal
    revenue: Decimal
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Migration:
    from_tier: ValueTier
    to_tier: ValueTier
    customers: int


@dataclass(frozen=True, slots=True)
class ChannelCostShare:
    channel: Channel
    interactions: int
    cost: Decimal
    share: Decimal  # of the negative-value customers' interaction cost


@dataclass(frozen=True, slots=True)
class ChannelSuggestion:
    from_channel: Channel
    to_channel: Channel
    interactions: int
    current_cost: Decimal
    self_service_cost: Decimal
    monthly_saving: Decimal
    message: str


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose customers a report covers: the whole bank, a branch with every unit below it,
    an RM's current portfolio, or both at once."""

    branch_id: int | None = None
    rm_id: int | None = None


def scope_for(principal: Principal, asked: ReportScope, own_branch_id: int | None) -> ReportScope:
    """The scope the caller may see of what they asked: an RM their own portfolio, a branch
    manager their own branch (`own_branch_id`, from the token's branch code); the bank-wide
    roles whatever they ask. Anything wider is FORBIDDEN, never silently narrowed."""
    match principal.role:
        case Role.RELATIONSHIP_MANAGER:
            if principal.rm_id is None or asked.rm_id not in (None, principal.rm_id):
                raise Forbidden("an RM's report covers their own portfolio")
            if asked.branch_id is not None:
                raise Forbidden("an RM's report covers their own portfolio, not a branch")
            return ReportScope(rm_id=principal.rm_id)
        case Role.BRANCH_MANAGER:
            if own_branch_id is None:
                raise Forbidden("the sign-in names no branch of this bank")
            if asked.branch_id not in (None, own_branch_id):
                raise Forbidden("a branch manager's report covers their own branch")
            return ReportScope(branch_id=own_branch_id, rm_id=asked.rm_id)
        case _:
            return asked


@dataclass(frozen=True, slots=True)
class ValueReport:
    period: date
    branch_id: int | None
    rm_id: int | None
    customers: int
    contribution: Decimal
    pareto: tuple[ParetoPoint, ...]
    tiers: tuple[TierSlice, ...]
    compared_to: date | None
    migration: tuple[Migration, ...]
    new_customers: int  # scored now, not in the earlier period
    departed_customers: int  # scored then, not now
    negative_channels: tuple[ChannelCostShare, ...]
    suggestions: tuple[ChannelSuggestion, ...]


class ValueReports(Protocol):
    async def report(
        self, period: date, scope: ReportScope, compared_to: date | None
    ) -> ValueReport | None:
        """None when the period was never scored."""
        ...


def share_of(part: Decimal, total: Decimal) -> Decimal | None:
    if total <= 0:
        return None
    return (part / total).quantize(Decimal("0.0001"))


def suggest_channels(
    negative: Sequence[ChannelCostShare], unit_costs: Mapping[Channel, Decimal]
) -> tuple[ChannelSuggestion, ...]:
    """For each assisted channel negative-value customers use, the cheapest self-service
    channel and what moving those contacts there would save a month, largest saving first."""
    offered = [c for c in SELF_SERVICE_CHANNELS if c in unit_costs]
    if not offered:
        return ()
    target = min(offered, key=lambda c: (unit_costs[c], c.value))
    unit = unit_costs[target]
    found: list[ChannelSuggestion] = []
    for line in negative:
        if line.channel in SELF_SERVICE_CHANNELS or line.interactions == 0:
            continue
        cheaper = unit * line.interactions
        saving = line.cost - cheaper
        if saving <= 0:
            continue
        found.append(
            ChannelSuggestion(
                from_channel=line.channel,
                to_channel=target,
                interactions=line.interactions,
                current_cost=line.cost,
                self_service_cost=cheaper,
                monthly_saving=saving,
                message=(
                    f"Move {line.interactions:,} {line.channel.value} contacts of negative-value "
                    f"customers ({line.cost:,.2f} CNY) to {target.value} ({unit:,.2f} CNY each): "
                    f"up to {saving:,.2f} CNY a month"
                ),
            )
        )
    return tuple(sorted(found, key=lambda s: s.monthly_saving, reverse=True))
