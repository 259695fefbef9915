"""The relationship state ladder as GraphQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.ids import encode_id
from domain.relationships import Proposal, ProposalStatus, ReasonCode, RelationshipState
from domain.relationships import Relationship as RelationshipModel
from domain.relationships import StateChange as StateChangeModel
from schema.core.context import Info

if TYPE_CHECKING:
    from schema.customers.types import Customer


@strawberry.type(description="One move on the relationship ladder.")
class StateChange:
    from_state: RelationshipState | None = strawberry.field(
        description="State before the move; null for the first classification."
    )
    to_state: RelationshipState = strawberry.field(description="State after the move.")
    reason_code: str = strawberry.field(description="Why the move was made, as a code.")
    note: str | None = strawberry.field(description="Free-text justification.")
    actor: str = strawberry.field(description="Who made the move.")
    occurred_at: datetime = strawberry.field(description="When the move took effect.")

    @classmethod
    def from_domain(cls, change: StateChangeModel) -> StateChange:
        return cls(
            from_state=change.from_state,
            to_state=change.to_state,
            reason_code=change.reason_code,
            note=change.note,
            actor=change.actor,
            occurred_at=change.occurred_at,
        )


@strawberry.type(description="A proposed move waiting for an approver (maker-checker).")
class StateChangeProposal:
    id: strawberry.ID = strawberry.field(description="Opaque id of the proposal.")
    from_state: RelationshipState = strawberry.field(description="State when proposed.")
    to_state: RelationshipState = strawberry.field(description="Proposed state.")
    reason_code: ReasonCode = strawberry.field(description="Why.")
    note: str | None = strawberry.field(description="Justification.")
    proposed_by: str = strawberry.field(description="The maker.")
    proposed_at: datetime = strawberry.field(description="When it was proposed.")
    deadline: datetime = strawberry.field(description="When a decision is due.")
    overdue: bool = strawberry.field(description="Still pending past its deadline.")
    status: ProposalStatus = strawberry.field(description="Pending, approved or rejected.")
    decided_by: str | None = strawberry.field(description="The checker, once decided.")
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]

    @strawberry.field(
        description="The customer it is about, as the caller may see them (masked and "
        "audited; one batched read for a whole inbox)."
    )
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers.types")] | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.customer_pk)

    @classmethod
    def from_domain(cls, proposal: Proposal) -> StateChangeProposal:
        return cls(
            id=strawberry.ID(encode_id("Proposal", proposal.id)),
            from_state=proposal.from_state,
            to_state=proposal.to_state,
            reason_code=proposal.reason_code,
            note=proposal.note,
            proposed_by=proposal.proposed_by,
            proposed_at=proposal.proposed_at,
            deadline=proposal.deadline,
            overdue=proposal.is_overdue(datetime.now(UTC)),
            status=proposal.status,
            decided_by=proposal.decided_by,
            pk=proposal.id,
            customer_pk=proposal.customer_id,
        )


@strawberry.type(description="The relationship's classification (正常/关注/可疑/退出).")
class Relationship:
    state: RelationshipState = strawberry.field(description="Current state.")
    since: datetime = strawberry.field(description="When the current state took effect.")
    version: int = strawberry.field(
        description="Changes so far; send it as expectedVersion when moving the state."
    )
    pending_proposal: StateChangeProposal | None = strawberry.field(
        description="The proposal waiting for a decision, if any."
    )
    customer_pk: strawberry.Private[int]

    @strawberry.field(description="Every move, newest first.")
    async def history(self, info: Info) -> list[StateChange]:
        # Read only when asked for: most screens show the state, not how it got there.
        found = await info.context.loaders.state_history_by_customer.load(self.customer_pk)
        return [StateChange.from_domain(c) for c in found]


async def load_relationship(
    info: Info, customer_id: int, *, created_at: datetime | None = None, fresh: bool = False
) -> Relationship:
    """The relationship through the request's loaders (or read afresh after a write)."""
    loaders = info.context.loaders
    if fresh:
        for loader in (
            loaders.relationship_by_customer,
            loaders.state_history_by_customer,
            loaders.pending_proposal_by_customer,
        ):
            loader.clear_all()  # a mutation's own request: read what it just wrote
    current, proposal = await asyncio.gather(
        loaders.relationship_by_customer.load(customer_id),
        loaders.pending_proposal_by_customer.load(customer_id),
    )
    if current is None and created_at is None:
        customer = await loaders.customer_by_id.load(customer_id)
        created_at = customer.created_at if customer else datetime.now(UTC)
    return relationship_from(customer_id, current, proposal, created_at)


def relationship_from(
    customer_id: int,
    current: RelationshipModel | None,
    proposal: Proposal | None,
    created_at: datetime | None,
) -> Relationship:
    if current is None:
        # A customer never classified is normal since onboarding, at version 0.
        state, since, version = (
            RelationshipState.NORMAL,
            created_at or datetime.now(UTC),
            0,
        )
    else:
        state, since, version = current.state, current.since, current.version
    return Relationship(
        state=state,
        since=since,
        version=version,
        pending_proposal=None if proposal is None else StateChangeProposal.from_domain(proposal),
        customer_pk=customer_id,
    )
