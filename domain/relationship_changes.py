"""Moving a relationship on the ladder: directly, or proposed and approved (maker-checker).

Each use case is one unit of work; the version read with the relationship guards against a
concurrent change (the loser gets CONFLICT and nothing is overwritten).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import NotFound
from domain.relationships import (
    PROPOSAL_DEADLINE,
    ApprovalRequired,
    Conflict,
    Proposal,
    ProposalStatus,
    ReasonCode,
    Relationship,
    RelationshipState,
    check_decision,
    check_move,
    clean_note,
    needs_approval,
)
from domain.transaction import Transaction


@dataclass(frozen=True, slots=True)
class Move:
    customer_id: int
    to_state: RelationshipState
    reason_code: ReasonCode
    note: str | None
    expected_version: int


class RelationshipUnitOfWork(Transaction, Protocol):
    async def relationship_for_update(self, customer_id: int) -> Relationship:
        """The current state, locked; NotFound for no such customer."""
        ...

    async def apply(
        self,
        current: Relationship,
        to_state: RelationshipState,
        reason: ReasonCode,
        note: str | None,
        actor: str,
        at: datetime,
    ) -> Relationship:
        """Write the new state (version + 1) and its history row."""
        ...

    async def pending_proposal(self, customer_id: int) -> Proposal | None: ...

    async def add_proposal(
        self, move: Move, from_state: RelationshipState, actor: str, at: datetime
    ) -> Proposal: ...

    async def proposal_for_update(self, proposal_id: int) -> Proposal | None: ...

    async def decide(
        self, proposal_id: int, status: ProposalStatus, checker: str, note: str | None, at: datetime
    ) -> None: ...


Factory = Callable[[], RelationshipUnitOfWork]


async def _apply_and_announce(
    uow: RelationshipUnitOfWork,
    current: Relationship,
    move: Move,
    note: str | None,
    actor: str,
    now: datetime,
) -> Relationship:
    moved = await uow.apply(current, move.to_state, move.reason_code, note, actor, now)
    await uow.emit(
        move.customer_id,
        "relationship.state_changed",
        {
            "fromState": current.state.value,
            "toState": moved.state.value,
            "reasonCode": move.reason_code.value,
            "version": moved.version,
        },
    )
    return moved


async def change_state(factory: Factory, move: Move, actor: str, now: datetime) -> Relationship:
    """A direct move; exit and re-entry must be proposed instead."""
    note = clean_note(move.note)
    async with factory() as uow:
        current = await uow.relationship_for_update(move.customer_id)
        step = check_move(current, move.to_state, move.expected_version)
        if needs_approval(step):
            raise ApprovalRequired(
                f"moving from {step[0].value} to {step[1].value} needs a proposal and an "
                "approver (proposeStateChange)"
            )
        moved = await _apply_and_announce(uow, current, move, note, actor, now)
        await uow.commit()
    return moved


async def propose_change(factory: Factory, move: Move, actor: str, now: datetime) -> Proposal:
    """Propose a move for someone else to approve; one open proposal per customer."""
    note = clean_note(move.note)
    async with factory() as uow:
        current = await uow.relationship_for_update(move.customer_id)
        step = check_move(current, move.to_state, move.expected_version)
        if await uow.pending_proposal(move.customer_id) is not None:
            raise Conflict("a proposal for this customer is already waiting for a decision")
        proposal = await uow.add_proposal(
            Move(move.customer_id, move.to_state, move.reason_code, note, current.version),
            step[0],
            actor,
            now,
        )
        await uow.emit(
            move.customer_id,
            "relationship.change_proposed",
            {"proposalId": proposal.id, "toState": move.to_state.value},
        )
        await uow.commit()
    return proposal


async def decide_proposal(
    factory: Factory, proposal_id: int, approve: bool, checker: str, note: str | None, now: datetime
) -> Relationship | None:
    """Approve (the move is applied) or reject a proposal; never by its maker."""
    decision_note = clean_note(note)
    async with factory() as uow:
        proposal = await uow.proposal_for_update(proposal_id)
        if proposal is None:
            raise NotFound("proposal", str(proposal_id))
        check_decision(proposal, checker)
        moved = None
        if approve:
            current = await uow.relationship_for_update(proposal.customer_id)
            check_move(current, proposal.to_state, proposal.base_version)
            moved = await _apply_and_announce(
                uow,
                current,
                Move(
                    proposal.customer_id,
                    proposal.to_state,
                    proposal.reason_code,
                    proposal.note,
                    proposal.base_version,
                ),
                proposal.note,
                f"{proposal.proposed_by} (approved by {checker})",
                now,
            )
        await uow.decide(
            proposal_id,
            ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED,
            checker,
            decision_note,
            now,
        )
        await uow.commit()
    return moved


def proposal_deadline(proposed_at: datetime) -> datetime:
    return proposed_at + PROPOSAL_DEADLINE
