"""Who owns a customer, in GraphQL: RM assignment and portfolios, teams, branch conflicts."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.access.principal import Role
from domain.assignment import (
    OwnershipClaim as OwnershipClaimModel,
)
from domain.assignment import (
    RmAssignment as RmAssignmentModel,
)
from domain.assignment import (
    TeamMember as TeamMemberModel,
)
from domain.assignment import (
    ViolationKind,
)
from domain.errors import DomainError, Forbidden
from domain.ids import encode_id
from domain.organisation import ClaimStatus, RmGrade
from domain.value.contribution import format_period
from domain.value.tiers import ValueTier
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
)
from schema.core.pagination import Edge, PageInfo, check_first, decode_id_cursor, split_page
from schema.organisation.types import (
    Branch,
    RelationshipManager,
    load_branch,
    load_relationship_manager,
)
from schema.products.types import CurrencyTotals

if TYPE_CHECKING:
    from schema.customers.types import Customer


CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers.types")]


async def _customer(info: Info, pk: int) -> Customer | None:
    from schema.customers.types import load_customer

    return await load_customer(info, pk)


@strawberry.type(description="One change of a customer's primary RM, on the customer's timeline.")
class RmAssignment:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the change.")
    reason: str = strawberry.field(description="Why the RM changed.")
    actor: str = strawberry.field(description="Who made the change.")
    occurred_at: datetime = strawberry.field(description="When.")
    from_pk: strawberry.Private[int | None]
    to_pk: strawberry.Private[int]

    @strawberry.field(description="The RM before; null if the customer had none.")
    async def from_relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.from_pk)

    @strawberry.field(description="The RM after.")
    async def to_relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.to_pk)

    @classmethod
    def from_domain(cls, a: RmAssignmentModel) -> RmAssignment:
        return cls(
            id=strawberry.ID(encode_id("RmAssignment", a.id)),
            reason=a.reason,
            actor=a.actor,
            occurred_at=a.occurred_at,
            from_pk=a.from_rm_id,
            to_pk=a.to_rm_id,
        )


@strawberry.type(description="An RM who serves a key customer beside the primary RM.")
class TeamMember:
    role: str = strawberry.field(description="What the RM does for the customer.")
    rm_pk: strawberry.Private[int]

    @strawberry.field(description="The RM.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.rm_pk)

    @classmethod
    def from_domain(cls, m: TeamMemberModel) -> TeamMember:
        return cls(role=m.role, rm_pk=m.rm_id)


@strawberry.type(description="How many customers of a portfolio are in a value tier.")
class TierCount:
    tier: ValueTier = strawberry.field(description="The tier.")
    customers: int = strawberry.field(description="Customers in it.")


@strawberry.type(description="A page of a portfolio's customers, in id order.")
class PortfolioCustomers:
    nodes: list[CustomerRef] = strawberry.field(description="Customers on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="An RM's book of customers: what the RM is measured by.")
class Portfolio:
    customer_count: int = strawberry.field(description="Customers the RM is accountable for.")
    totals: list[CurrencyTotals] = strawberry.field(
        description="Deposits, loans and assets under management per currency (open holdings)."
    )
    period: str | None = strawberry.field(description="The latest scored month, YYYY-MM.")
    contribution: Decimal = strawberry.field(
        description="Sum of the customers' contribution in that month, CNY."
    )
    tier_mix: list[TierCount] = strawberry.field(description="Customers per value tier.")
    open_alerts: int = strawberry.field(description="Alerts open or acknowledged.")
    open_tasks: int = strawberry.field(description="Tasks still open.")
    rm_pk: strawberry.Private[int]

    @strawberry.field(description="The customers, a page at a time (masked and audited).")
    async def customers(
        self, info: Info, first: int, after: str | None = None
    ) -> PortfolioCustomers:
        try:
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        ids = await info.context.ownership.portfolio_page(self.rm_pk, first + 1, after_id)
        page, page_info = split_page(ids, first, lambda pk: pk)
        # Concurrently, so the customer loader reads the whole page in one batch.
        found = await asyncio.gather(*(_customer(info, pk) for pk in page))
        nodes = [c for c in found if c is not None]
        return PortfolioCustomers(nodes=nodes, page_info=page_info)


def may_see_portfolio(info: Info, rm_id: int) -> bool:
    principal = info.context.principal
    if principal.role is Role.RELATIONSHIP_MANAGER:
        return principal.rm_id == rm_id
    return principal.role in (Role.APPROVER, Role.ADMIN, Role.COMPLIANCE)


async def load_portfolio(info: Info, rm_id: int) -> Portfolio | None:
    if not may_see_portfolio(info, rm_id):
        # Refused with FORBIDDEN, not a silent null a desk would take for an empty book.
        raise UserFacingError(
            Forbidden(
                f"the {info.context.principal.role.value} role may not see this RM's portfolio"
            )
        )
    summary = await info.context.ownership.portfolio(rm_id)
    return Portfolio(
        customer_count=summary.customers,
        totals=[CurrencyTotals.from_domain(t) for t in summary.totals],
        period=None if summary.period is None else format_period(summary.period),
        contribution=summary.contribution,
        tier_mix=[TierCount(tier=t, customers=n) for t, n in summary.tiers.items()],
        open_alerts=summary.open_alerts,
        open_tasks=summary.open_tasks,
        rm_pk=rm_id,
    )


@strawberry.type(description="A customer served below the bank's rules for their value.")
class AssignmentViolation:
    kind: ViolationKind = strawberry.field(description="What is wrong.")
    tier: ValueTier | None = strawberry.field(description="Tier in the latest scored month.")
    required_grade: RmGrade = strawberry.field(description="Grade a high-value customer needs.")
    rm_grade: RmGrade | None = strawberry.field(description="Grade of the RM now; null if none.")
    customer_pk: strawberry.Private[int]
    rm_pk: strawberry.Private[int | None]

    @strawberry.field(description="The customer (masked and audited).")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await _customer(info, self.customer_pk)

    @strawberry.field(description="The RM now; null if none.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.rm_pk)


@strawberry.type(description="A page of assignment violations, in customer id order.")
class AssignmentViolationConnection:
    edges: list[Edge[AssignmentViolation]] = strawberry.field(
        description="This page, with cursors."
    )
    nodes: list[AssignmentViolation] = strawberry.field(description="Violations on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="A branch's claim to own a customer.")
class OwnershipClaim:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the claim.")
    status: ClaimStatus = strawberry.field(description="Open, granted, rejected or withdrawn.")
    note: str | None = strawberry.field(description="Why the branch claims the customer.")
    claimed_by: str = strawberry.field(description="Who claimed.")
    claimed_at: datetime = strawberry.field(description="When.")
    resolved_by: str | None = strawberry.field(description="Who decided it.")
    resolved_at: datetime | None = strawberry.field(description="When it was decided.")
    branch_pk: strawberry.Private[int]

    @strawberry.field(description="The claiming branch.")
    async def branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.branch_pk)

    @classmethod
    def from_domain(cls, c: OwnershipClaimModel) -> OwnershipClaim:
        return cls(
            id=strawberry.ID(encode_id("OwnershipClaim", c.id)),
            status=c.status,
            note=c.note,
            claimed_by=c.claimed_by,
            claimed_at=c.claimed_at,
            resolved_by=c.resolved_by,
            resolved_at=c.resolved_at,
            branch_pk=c.branch_id,
        )


@strawberry.type(description="A customer claimed by a branch other than its home branch.")
class OwnershipConflict:
    claims: list[OwnershipClaim] = strawberry.field(description="The open claims.")
    customer_pk: strawberry.Private[int]
    home_pk: strawberry.Private[int | None]

    @strawberry.field(description="The customer (masked and audited).")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await _customer(info, self.customer_pk)

    @strawberry.field(description="The branch that owns the customer now.")
    async def home_branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.home_pk)


@strawberry.type(description="A page of ownership conflicts, in customer id order.")
class OwnershipConflictConnection:
    edges: list[Edge[OwnershipConflict]] = strawberry.field(description="This page, with cursors.")
    nodes: list[OwnershipConflict] = strawberry.field(description="Conflicts on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="The outcome of assigning an RM.")
class AssignRelationshipManagerPayload:
    changed: bool = strawberry.field(description="False when the RM already was the primary RM.")
    assignment: RmAssignment | None = strawberry.field(description="The recorded change.")


@strawberry.type(description="The outcome of moving a portfolio to a successor.")
class PortfolioReassignment:
    moved: int = strawberry.field(description="Customers moved (each recorded on its timeline).")
    remaining: int = strawberry.field(description="Customers the former RM still has.")


@strawberry.type(description="A key customer's RM team after the change.")
class RelationshipTeam:
    members: list[TeamMember] = strawberry.field(description="The team besides the primary RM.")


@strawberry.type(description="A resolved ownership conflict.")
class OwnershipResolution:
    decided: list[OwnershipClaim] = strawberry.field(description="Claims granted or rejected.")
    home_pk: strawberry.Private[int]

    @strawberry.field(description="The owning branch from now on.")
    async def home_branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.home_pk)


AssignResult = Annotated[
    AssignRelationshipManagerPayload
    | NotFoundError
    | InvalidInputError
    | ForbiddenError
    | RuleViolationError,
    strawberry.union("AssignRelationshipManagerResult", description="The change, or why not."),
]


ReassignResult = Annotated[
    PortfolioReassignment | NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("ReassignPortfolioResult", description="What moved, or why nothing did."),
]


TeamResult = Annotated[
    RelationshipTeam | NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("SetRelationshipTeamResult", description="The team, or why not."),
]


ClaimResult = Annotated[
    OwnershipClaim | NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("ClaimCustomerOwnershipResult", description="The claim, or why not."),
]


ResolveResult = Annotated[
    OwnershipResolution | NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("ResolveOwnershipConflictResult", description="The decision, or why not."),
]


@strawberry.input(description="An RM in a key customer's team.")
class TeamMemberInput:
    relationship_manager_id: strawberry.ID = strawberry.field(description="The RM.")
    role: str = strawberry.field(description="What the RM does for the customer (1–60 chars).")
