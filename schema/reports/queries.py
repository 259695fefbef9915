"""Management reports in GraphQL: the RM league table and satisfaction by staff, branch or
channel. Aggregates of the bank's own work: no customer is named in them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.interactions import Channel
from domain.reports.league import LeagueRow
from domain.reports.satisfaction import (
    SatisfactionGrouping,
    SatisfactionQuery,
    SatisfactionRow,
    validate_period,
)
from domain.reports.scope import branch_scope
from domain.reports.structure import MonthStructure as MonthStructureModel
from domain.reports.structure import validate_months
from domain.value.contribution import format_period, parse_period
from domain.value.tiers import ValueTier
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import (
    Edge,
    PageInfo,
    check_first,
    cursor_key,
    decode_cursor,
    encode_cursor,
)
from schema.organisation.types import (
    Branch,
    RelationshipManager,
    load_branch,
    load_relationship_manager,
    own_branch_id,
)
from schema.ownership.types import TierCount
from schema.value.report import TierMigration

strawberry.enum(SatisfactionGrouping, description="What a satisfaction report groups by.")


@strawberry.type(description="One RM's line in the league table.")
class RmLeagueRow:
    rank: int = strawberry.field(
        description="1 for the highest contribution; equal contributions share a rank."
    )
    customers: int = strawberry.field(description="Customers in the RM's book now.")
    contribution: Decimal = strawberry.field(
        description="Their customers' contribution in the period, CNY (value scoring)."
    )
    revenue: Decimal = strawberry.field(description="Margin and fee revenue, CNY.")
    fees: Decimal = strawberry.field(description="Fee revenue, CNY.")
    deposits_cny: Decimal = strawberry.field(
        description="Open deposit balances in CNY now (other currencies are not converted)."
    )
    loans_cny: Decimal = strawberry.field(description="Open loan balances in CNY now.")
    visits: int = strawberry.field(description="RM visits to their customers in the period.")
    overdue_tasks: int = strawberry.field(description="Open tasks the RM owns, past due now.")
    rm_pk: strawberry.Private[int]

    @strawberry.field(description="The RM.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.rm_pk)

    @classmethod
    def from_domain(cls, row: LeagueRow) -> RmLeagueRow:
        return cls(
            rank=row.rank,
            customers=row.customers,
            contribution=row.contribution,
            revenue=row.revenue,
            fees=row.fees,
            deposits_cny=row.deposits_cny,
            loans_cny=row.loans_cny,
            visits=row.visits,
            overdue_tasks=row.overdue_tasks,
            rm_pk=row.rm_id,
        )


@strawberry.type(description="A page of the league table, by rank.")
class RmLeagueConnection:
    edges: list[Edge[RmLeagueRow]] = strawberry.field(description="This page, with cursors.")
    nodes: list[RmLeagueRow] = strawberry.field(description="Rows on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="Satisfaction of one staff member, branch or channel.")
class SatisfactionLine:
    staff_code: str | None = strawberry.field(description="The staff code, grouping by staff.")
    channel: Channel | None = strawberry.field(description="The channel, grouping by channel.")
    interactions: int = strawberry.field(description="Interactions in the period.")
    rated: int = strawberry.field(description="Those the customer rated (1-5).")
    average: Decimal | None = strawberry.field(
        description="Mean rating, 2 decimals; null when none was rated."
    )
    satisfied: int = strawberry.field(description="Rated 4 or 5.")
    dissatisfied: int = strawberry.field(description="Rated 1 or 2.")
    branch_pk: strawberry.Private[int | None]

    @strawberry.field(description="The branch, grouping by branch.")
    async def branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.branch_pk)

    @classmethod
    def from_domain(cls, row: SatisfactionRow, grouping: SatisfactionGrouping) -> SatisfactionLine:
        return cls(
            staff_code=row.key if grouping is SatisfactionGrouping.STAFF else None,
            channel=Channel(row.key) if grouping is SatisfactionGrouping.CHANNEL else None,
            interactions=row.interactions,
            rated=row.rated,
            average=row.average,
            satisfied=row.satisfied,
            dissatisfied=row.dissatisfied,
            branch_pk=int(row.key) if grouping is SatisfactionGrouping.BRANCH else None,
        )


@strawberry.type(description="One scored month of the customer structure.")
class MonthStructure:
    period: str = strawberry.field(description="The month, YYYY-MM.")
    customers: int = strawberry.field(description="Customers scored in scope.")
    tiers: list[TierCount] = strawberry.field(description="Every tier, empty ones included.")
    compared_to: str | None = strawberry.field(
        description="The month before, when it was scored too; null otherwise (then there "
        "are no new, lost or moved customers to tell)."
    )
    new_customers: int | None = strawberry.field(
        description="Scored this month, not the month before."
    )
    lost_customers: int | None = strawberry.field(
        description="Scored the month before, not this month."
    )
    migration: list[TierMigration] = strawberry.field(
        description="Moves between tiers since the month before (customers scored in both)."
    )

    @classmethod
    def from_domain(cls, month: MonthStructureModel) -> MonthStructure:
        order = list(ValueTier)
        return cls(
            period=format_period(month.period),
            customers=sum(month.tiers.values()),
            tiers=[TierCount(tier=t, customers=month.tiers.get(t, 0)) for t in ValueTier],
            compared_to=None if month.compared_to is None else format_period(month.compared_to),
            new_customers=month.new_customers,
            lost_customers=month.lost_customers,
            migration=[
                TierMigration(from_tier=a, to_tier=b, customers=n)
                for (a, b), n in sorted(
                    month.migration.items(),
                    key=lambda x: (order.index(x[0][0]), order.index(x[0][1])),
                )
            ],
        )


async def _branch(info: Info, branch_id: strawberry.ID | None) -> int | None:
    asked = None if branch_id is None else decode_typed_id(branch_id, "Branch", field="branchId")
    return branch_scope(info.context.principal, asked, await own_branch_id(info))


@strawberry.type
class ReportQueries:
    @strawberry.field(
        description="RMs ranked by their customers' contribution in a scored month, with "
        "their book, revenue, fees, CNY balances, visits and overdue tasks; the whole bank or "
        "one branch with its units (a branch manager: their own)."
    )
    async def rm_league_table(
        self,
        info: Info,
        period: str,
        first: int,
        branch_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> RmLeagueConnection:
        try:
            require(info, "rmLeagueTable")
            month = parse_period(period)
            check_first(first)
            offset = 0 if after is None else cursor_key(decode_cursor(after))
            branch = await _branch(info, branch_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.reports.league(month, branch, first + 1, offset)
        nodes = [RmLeagueRow.from_domain(r) for r in found[:first]]
        # The cursor is the position in the ranking: the table is recomputed per page.
        positions = range(offset + 1, offset + len(nodes) + 1)
        return RmLeagueConnection(
            edges=[
                Edge(cursor=encode_cursor(str(p)), node=n)
                for p, n in zip(positions, nodes, strict=True)
            ],
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=len(found) > first,
                end_cursor=encode_cursor(str(positions[-1])) if nodes else None,
                start_cursor=encode_cursor(str(positions[0])) if nodes else None,
            ),
        )

    @strawberry.field(
        description="The customer structure month by month: the tier mix, new and lost "
        "customers and the moves between tiers, for the scored months from `from` to `to` "
        "(at most 36); the whole bank or one branch with its units (a branch manager: their "
        "own)."
    )
    async def customer_structure(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        branch_id: strawberry.ID | None = None,
    ) -> list[MonthStructure]:
        try:
            require(info, "customerStructure")
            first = parse_period(from_, "from")
            last = parse_period(to, "to")
            validate_months(first, last)
            branch = await _branch(info, branch_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        months = await info.context.reports.structure(first, last, branch)
        return [MonthStructure.from_domain(m) for m in months]

    @strawberry.field(
        description="Customer satisfaction over a period, by staff member, branch or channel: "
        "interactions, ratings, mean and the satisfied and dissatisfied counts; most "
        "interactions first. The whole bank or one branch (a branch manager: their own)."
    )
    async def satisfaction_report(
        self,
        info: Info,
        since: datetime,
        until: datetime,
        by: SatisfactionGrouping,
        branch_id: strawberry.ID | None = None,
    ) -> list[SatisfactionLine]:
        try:
            require(info, "satisfactionReport")
            validate_period(since, until)
            query = SatisfactionQuery(since, until, by, await _branch(info, branch_id))
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        rows = await info.context.reports.satisfaction(query)
        return [SatisfactionLine.from_domain(r, by) for r in rows]
