"""valueReport: the 80/20 view of contribution by tier, branch, product and channel."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.interactions import Channel
from domain.value.contribution import format_period, parse_period
from domain.value.report import ReportScope, scope_for
from domain.value.report import ValueReport as ValueReportModel
from domain.value.tiers import ValueTier
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.organisation.types import (
    Branch,
    RelationshipManager,
    load_branch,
    load_relationship_manager,
    own_branch_id,
)


@strawberry.type(description="What the top share of customers by contribution contributes.")
class ParetoPoint:
    top_share: Decimal = strawberry.field(description="0.20 is the top 20 % of customers.")
    customers: int = strawberry.field(description="How many customers that is (rounded up).")
    contribution: Decimal = strawberry.field(description="Their contribution, CNY.")
    share_of_total: Decimal | None = strawberry.field(
        description="Their contribution ÷ the total (above 1 when the rest lose money); null "
        "when the total is not positive."
    )


@strawberry.type(description="Customers and contribution in one value tier.")
class TierSlice:
    tier: ValueTier = strawberry.field(description="The tier.")
    customers: int = strawberry.field(description="Customers in it.")
    contribution: Decimal = strawberry.field(description="Their contribution, CNY.")
    revenue: Decimal = strawberry.field(description="Their revenue, CNY.")
    cost: Decimal = strawberry.field(description="Their cost to serve, CNY.")


@strawberry.type(description="Customers who moved from one tier to another between periods.")
class TierMigration:
    from_tier: ValueTier = strawberry.field(description="Tier in the earlier period.")
    to_tier: ValueTier = strawberry.field(description="Tier in the report's period.")
    customers: int = strawberry.field(description="How many customers.")


@strawberry.type(description="One channel's share of negative-value customers' contact cost.")
class ChannelCostShare:
    channel: Channel = strawberry.field(description="The channel.")
    interactions: int = strawberry.field(description="Their contacts in the channel.")
    cost: Decimal = strawberry.field(description="What those contacts cost, CNY.")
    share: Decimal = strawberry.field(description="Share of their total contact cost.")


@strawberry.type(description="A cheaper self-service channel for assisted contacts.")
class ChannelSuggestion:
    from_channel: Channel = strawberry.field(description="The assisted channel used now.")
    to_channel: Channel = strawberry.field(description="The cheapest self-service channel.")
    interactions: int = strawberry.field(description="Contacts that could move.")
    current_cost: Decimal = strawberry.field(description="What they cost now, CNY.")
    self_service_cost: Decimal = strawberry.field(description="What they would cost, CNY.")
    monthly_saving: Decimal = strawberry.field(description="The difference, CNY a month.")
    message: str = strawberry.field(description="The suggestion in words.")


@strawberry.type(
    description="The 80/20 view of a month: Pareto curve, tiers, tier migration and the cost "
    "of negative-value customers. Consistent with the per-customer figures."
)
class ValueReport:
    period: str = strawberry.field(description="The month, YYYY-MM.")
    customers: int = strawberry.field(description="Customers scored in scope.")
    contribution: Decimal = strawberry.field(description="Their total contribution, CNY.")
    pareto: list[ParetoPoint] = strawberry.field(description="Top 1 %, 5 %, 10 % and 20 %.")
    tiers: list[TierSlice] = strawberry.field(description="Every tier, empty ones included.")
    compared_to: str | None = strawberry.field(description="The earlier month, if asked.")
    migration: list[TierMigration] = strawberry.field(
        description="Tier changes from the earlier month (customers scored in both)."
    )
    new_customers: int = strawberry.field(description="Scored now but not in the earlier month.")
    departed_customers: int = strawberry.field(
        description="Scored in the earlier month but not now."
    )
    negative_value_channels: list[ChannelCostShare] = strawberry.field(
        description="Where negative-value customers' contact cost goes."
    )
    suggestions: list[ChannelSuggestion] = strawberry.field(
        description="Cheaper self-service channels for their assisted contacts."
    )
    branch_pk: strawberry.Private[int | None]
    rm_pk: strawberry.Private[int | None]

    @strawberry.field(description="The branch (with its sub-branches); null for the whole bank.")
    async def branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.branch_pk)

    @strawberry.field(description="The RM whose current portfolio it covers; null for none.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.rm_pk)

    @classmethod
    def from_domain(cls, r: ValueReportModel) -> ValueReport:
        return cls(
            period=format_period(r.period),
            customers=r.customers,
            contribution=r.contribution,
            pareto=[
                ParetoPoint(
                    top_share=p.top_share,
                    customers=p.customers,
                    contribution=p.contribution,
                    share_of_total=p.share_of_total,
                )
                for p in r.pareto
            ],
            tiers=[
                TierSlice(
                    tier=t.tier,
                    customers=t.customers,
                    contribution=t.contribution,
                    revenue=t.revenue,
                    cost=t.cost,
                )
                for t in r.tiers
            ],
            compared_to=None if r.compared_to is None else format_period(r.compared_to),
            migration=[
                TierMigration(from_tier=m.from_tier, to_tier=m.to_tier, customers=m.customers)
                for m in r.migration
            ],
            new_customers=r.new_customers,
            departed_customers=r.departed_customers,
            negative_value_channels=[
                ChannelCostShare(
                    channel=c.channel, interactions=c.interactions, cost=c.cost, share=c.share
                )
                for c in r.negative_channels
            ],
            suggestions=[
                ChannelSuggestion(
                    from_channel=s.from_channel,
                    to_channel=s.to_channel,
                    interactions=s.interactions,
                    current_cost=s.current_cost,
                    self_service_cost=s.self_service_cost,
                    monthly_saving=s.monthly_saving,
                    message=s.message,
                )
                for s in r.suggestions
            ],
            branch_pk=r.branch_id,
            rm_pk=r.rm_id,
        )


@strawberry.type
class ValueReportQueries:
    @strawberry.field(
        description="The value report for a scored month (null if never scored), for the "
        "whole bank, one branch with its sub-branches, or one RM's current portfolio. An RM "
        "gets their own portfolio's, a branch manager their branch's; wider is FORBIDDEN."
    )
    async def value_report(
        self,
        info: Info,
        period: str,
        branch_id: strawberry.ID | None = None,
        compared_to: str | None = None,
        relationship_manager_id: strawberry.ID | None = None,
    ) -> ValueReport | None:
        try:
            require(info, "valueReport")
            month = parse_period(period)
            earlier = None if compared_to is None else parse_period(compared_to, "comparedTo")
            asked = ReportScope(
                branch_id=None
                if branch_id is None
                else decode_typed_id(branch_id, "Branch", field="branchId"),
                rm_id=None
                if relationship_manager_id is None
                else decode_typed_id(
                    relationship_manager_id, "RelationshipManager", field="relationshipManagerId"
                ),
            )
            scope = scope_for(info.context.principal, asked, await own_branch_id(info))
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.value_reports.report(month, scope, earlier)
        return None if found is None else ValueReport.from_domain(found)
