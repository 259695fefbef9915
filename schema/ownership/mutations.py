"""Assigning RMs, handing over portfolios, teams, ownership claims and their resolution."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.access.principal import Role
from domain.assignment import (
    TeamMember as TeamMemberModel,
)
from domain.assignment import (
    assign,
    claim_ownership,
    reassign_portfolio,
    resolve_conflict,
    set_team,
)
from domain.errors import DomainError, Forbidden
from domain.ids import decode_typed_id
from domain.organisation import RmGrade
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    rule_error_type,
)
from schema.ownership.types import (
    AssignRelationshipManagerPayload,
    AssignResult,
    ClaimResult,
    OwnershipClaim,
    OwnershipResolution,
    PortfolioReassignment,
    ReassignResult,
    RelationshipTeam,
    ResolveResult,
    RmAssignment,
    TeamMember,
    TeamMemberInput,
    TeamResult,
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
