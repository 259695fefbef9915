"""Moving a relationship on the ladder, directly or through maker-checker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from domain.access.principal import Role
from domain.errors import DomainError, Forbidden, NotFound
from domain.ids import decode_typed_id
from domain.relationship_changes import Move, change_state, decide_proposal, propose_change
from domain.relationships import (
    ApprovalRequired,
    Conflict,
    InvalidStateTransition,
    MakerCheckerViolation,
    ReasonCode,
    RelationshipState,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import Error, ForbiddenError, InvalidInputError, NotFoundError, error_type
from schema.relationships.types import Relationship, StateChangeProposal, load_relationship


@strawberry.type(description="The ladder does not allow this move.")
class InvalidStateTransitionError(Error):
    pass


@strawberry.type(description="The relationship changed since you read it; read it again.")
class ConflictError(Error):
    pass


@strawberry.type(description="This move needs a proposal and an approver (maker-checker).")
class ApprovalRequiredError(Error):
    pass


@strawberry.type(description="The maker of a proposal cannot decide it.")
class MakerCheckerViolationError(Error):
    pass


@strawberry.input(description="A move on the ladder, against the version you read.")
class StateChangeInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    to_state: RelationshipState = strawberry.field(description="The state to move to.")
    reason_code: ReasonCode = strawberry.field(description="Why.")
    note: str | None = strawberry.field(default=None, description="Justification (≤ 1000).")
    expected_version: int = strawberry.field(
        description="`relationship.version` as read; a stale one is a CONFLICT."
    )


@strawberry.input(description="Approve or reject a proposal.")
class DecideStateChangeInput:
    proposal_id: strawberry.ID = strawberry.field(description="The proposal.")
    note: str | None = strawberry.field(default=None, description="Why (≤ 1000).")


_Errors = (
    InvalidStateTransitionError
    | ConflictError
    | ApprovalRequiredError
    | MakerCheckerViolationError
    | NotFoundError
    | InvalidInputError
    | ForbiddenError
)
RelationshipChangeResult = Annotated[
    Relationship | _Errors,
    strawberry.union("RelationshipChangeResult", description="The new state, or why not."),
]
ProposalResult = Annotated[
    StateChangeProposal | _Errors,
    strawberry.union("ProposalResult", description="The proposal, or why not."),
]


def _error(exc: DomainError) -> Error:
    kinds: dict[type[DomainError], type[Error]] = {
        InvalidStateTransition: InvalidStateTransitionError,
        Conflict: ConflictError,
        ApprovalRequired: ApprovalRequiredError,
        MakerCheckerViolation: MakerCheckerViolationError,
    }
    kind = kinds.get(type(exc))
    return kind(code=exc.code, message=exc.message) if kind else error_type(exc)


async def _own_move(info: Info, root_field: str, input: StateChangeInput) -> Move:
    """Check the role, and the row: an RM moves only customers of their own portfolio."""
    require(info, root_field)
    pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
    customer = await info.context.loaders.customer_by_id.load(pk)
    if customer is None:
        raise NotFound("customer", input.customer_id)
    principal = info.context.principal
    if principal.role is Role.RELATIONSHIP_MANAGER and (
        principal.rm_id is None or customer.relationship_manager_id != principal.rm_id
    ):
        raise Forbidden("an RM moves only the relationships of their own portfolio")
    return Move(pk, input.to_state, input.reason_code, input.note, input.expected_version)


@strawberry.type
class RelationshipMutations:
    @strawberry.mutation(
        description="Move a relationship one step (normal ↔ watch ↔ doubtful). Exit and "
        "re-entry from exit need proposeStateChange and an approver."
    )
    async def change_relationship_state(
        self, info: Info, input: StateChangeInput
    ) -> RelationshipChangeResult:
        try:
            move = await _own_move(info, "changeRelationshipState", input)
            await change_state(
                info.context.relationships, move, info.context.principal.subject, datetime.now(UTC)
            )
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return await load_relationship(info, move.customer_id, fresh=True)

    @strawberry.mutation(description="Propose a move for an approver to decide (maker-checker).")
    async def propose_state_change(self, info: Info, input: StateChangeInput) -> ProposalResult:
        try:
            move = await _own_move(info, "proposeStateChange", input)
            proposal = await propose_change(
                info.context.relationships, move, info.context.principal.subject, datetime.now(UTC)
            )
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return StateChangeProposal.from_domain(proposal)

    @strawberry.mutation(description="Approve a proposal: the move is applied (not by its maker).")
    async def approve_state_change(
        self, info: Info, input: DecideStateChangeInput
    ) -> RelationshipChangeResult:
        try:
            require(info, "approveStateChange")
            proposal_id = decode_typed_id(input.proposal_id, "Proposal", field="proposalId")
            moved = await decide_proposal(
                info.context.relationships,
                proposal_id,
                True,
                info.context.principal.subject,
                input.note,
                datetime.now(UTC),
            )
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        assert moved is not None
        return await load_relationship(info, moved.customer_id, fresh=True)

    @strawberry.mutation(description="Reject a proposal (not by its maker); nothing moves.")
    async def reject_state_change(
        self, info: Info, input: DecideStateChangeInput
    ) -> ProposalResult:
        try:
            require(info, "rejectStateChange")
            proposal_id = decode_typed_id(input.proposal_id, "Proposal", field="proposalId")
            await decide_proposal(
                info.context.relationships,
                proposal_id,
                False,
                info.context.principal.subject,
                input.note,
                datetime.now(UTC),
            )
            decided = (await info.context.reader.proposals_by_id([proposal_id]))[proposal_id]
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return StateChangeProposal.from_domain(decided)
