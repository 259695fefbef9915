"""Who owns a customer, in GraphQL: RM assignment and portfolios, teams, branch conflicts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
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
    assign,
    claim_ownership,
    reassign_portfolio,
    resolve_conflict,
    set_team,
)
from domain.errors import DomainError
from domain.ids import decode_typed_id, encode_id
from domain.organisation import ClaimStatus, RmGrade
from domain.value.contribution import format_period
from domain.value.tiers import ValueTier
from schema.core.access import Forbidden, require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
    rule_error_type,
)
from schema.core.pagination import PageInfo, check_first, decode_id_cursor, split_page
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
        return None
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


@strawberry.type
class OwnershipQueries:
    @strawberry.field(description="A relationship manager; their portfolio for those allowed.")
    async def relationship_manager(
        self, info: Info, id: strawberry.ID
    ) -> RelationshipManager | None:
        try:
            require(info, "relationshipManager")
            pk = decode_typed_id(id, "RelationshipManager")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return await load_relationship_manager(info, pk)

    @strawberry.field(
        description="High-value customers without an RM of the required grade, and customers "
        "whose RM is no longer active (latest scored month)."
    )
    async def assignment_violations(
        self, info: Info, first: int, after: str | None = None
    ) -> AssignmentViolationConnection:
        try:
            require(info, "assignmentViolations")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        grade = RmGrade(info.context.min_rm_grade)
        found = await info.context.ownership.violations(grade, first + 1, after_id)
        page, page_info = split_page(found, first, lambda v: v.customer_id)
        return AssignmentViolationConnection(
            nodes=[
                AssignmentViolation(
                    kind=v.kind,
                    tier=v.tier,
                    required_grade=v.required_grade,
                    rm_grade=v.rm_grade,
                    customer_pk=v.customer_id,
                    rm_pk=v.rm_id,
                )
                for v in page
            ],
            page_info=page_info,
        )

    @strawberry.field(description="Customers claimed by a branch other than their home branch.")
    async def ownership_conflicts(
        self, info: Info, first: int, after: str | None = None
    ) -> OwnershipConflictConnection:
        try:
            require(info, "ownershipConflicts")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.ownership.conflicts(first + 1, after_id)
        page, page_info = split_page(found, first, lambda x: x.customer_id)
        return OwnershipConflictConnection(
            nodes=[
                OwnershipConflict(
                    claims=[OwnershipClaim.from_domain(c) for c in x.claims],
                    customer_pk=x.customer_id,
                    home_pk=x.home_branch_id,
                )
                for x in page
            ],
            page_info=page_info,
        )


@strawberry.type
class OwnershipMutations:
    @strawberry.mutation(
        description="Make an RM the customer's primary RM (one per customer); the change is "
        "recorded on the customer's timeline. A high-value customer needs a senior enough RM."
    )
    async def assign_relationship_manager(
        self,
        info: Info,
        customer_id: strawberry.ID,
        relationship_manager_id: strawberry.ID,
        reason: str,
    ) -> AssignResult:
        try:
            require(info, "assignRelationshipManager")
            customer = decode_typed_id(customer_id, "Customer", field="customerId")
            rm = decode_typed_id(
                relationship_manager_id, "RelationshipManager", field="relationshipManagerId"
            )
            moved = await assign(
                info.context.assignments(),
                customer,
                rm,
                info.context.principal,
                reason,
                datetime.now(UTC),
                RmGrade(info.context.min_rm_grade),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return AssignRelationshipManagerPayload(
            changed=moved is not None,
            assignment=None if moved is None else RmAssignment.from_domain(moved),
        )

    @strawberry.mutation(
        description="Move an RM's customers (all, or those named) to a successor in one "
        "transaction: their history and open RM tasks go with them; all or nothing."
    )
    async def reassign_portfolio(
        self,
        info: Info,
        from_rm: strawberry.ID,
        to_rm: strawberry.ID,
        reason: str,
        customers: list[strawberry.ID] | None = None,
    ) -> ReassignResult:
        try:
            require(info, "reassignPortfolio")
            source = decode_typed_id(from_rm, "RelationshipManager", field="fromRm")
            target = decode_typed_id(to_rm, "RelationshipManager", field="toRm")
            chosen = (
                None
                if customers is None
                else [decode_typed_id(c, "Customer", field="customers") for c in customers]
            )
            moved = await reassign_portfolio(
                info.context.assignments(),
                source,
                target,
                chosen,
                info.context.principal,
                reason,
                datetime.now(UTC),
                RmGrade(info.context.min_rm_grade),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return PortfolioReassignment(moved=len(moved.moved), remaining=moved.remaining)

    @strawberry.mutation(description="Replace the RM team serving a key customer.")
    async def set_relationship_team(
        self, info: Info, customer_id: strawberry.ID, members: list[TeamMemberInput]
    ) -> TeamResult:
        try:
            require(info, "setRelationshipTeam")
            customer = decode_typed_id(customer_id, "Customer", field="customerId")
            wanted = [
                TeamMemberModel(
                    decode_typed_id(
                        m.relationship_manager_id,
                        "RelationshipManager",
                        field=f"members[{i}].relationshipManagerId",
                    ),
                    m.role,
                )
                for i, m in enumerate(members)
            ]
            team = await set_team(
                info.context.assignments(), customer, wanted, info.context.principal
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return RelationshipTeam(members=[TeamMember.from_domain(m) for m in team])

    @strawberry.mutation(
        description="Claim a customer for a branch; a claim against another branch's customer "
        "is an ownership conflict until an approver resolves it. An RM claims for their own "
        "branch only."
    )
    async def claim_customer_ownership(
        self,
        info: Info,
        customer_id: strawberry.ID,
        branch_id: strawberry.ID,
        note: str | None = None,
    ) -> ClaimResult:
        try:
            require(info, "claimCustomerOwnership")
            customer = decode_typed_id(customer_id, "Customer", field="customerId")
            branch = decode_typed_id(branch_id, "Branch", field="branchId")
            principal = info.context.principal
            if principal.role is Role.RELATIONSHIP_MANAGER:
                me = await info.context.loaders.relationship_manager_by_id.load(
                    principal.rm_id or 0
                )
                if me is None or me.branch_id != branch:
                    raise Forbidden("an RM claims customers for their own branch only")
            claim = await claim_ownership(
                info.context.assignments(), customer, branch, note, principal, datetime.now(UTC)
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return OwnershipClaim.from_domain(claim)

    @strawberry.mutation(
        description="Name the branch that owns the customer: its claim is granted, every other "
        "open claim rejected."
    )
    async def resolve_ownership_conflict(
        self, info: Info, customer_id: strawberry.ID, branch_id: strawberry.ID
    ) -> ResolveResult:
        try:
            require(info, "resolveOwnershipConflict")
            customer = decode_typed_id(customer_id, "Customer", field="customerId")
            branch = decode_typed_id(branch_id, "Branch", field="branchId")
            decided = await resolve_conflict(
                info.context.assignments(),
                customer,
                branch,
                info.context.principal,
                datetime.now(UTC),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return OwnershipResolution(
            decided=[OwnershipClaim.from_domain(c) for c in decided], home_pk=branch
        )
