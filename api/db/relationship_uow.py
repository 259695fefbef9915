"""SqlRelationshipUnitOfWork: the ladder's writes in one PostgreSQL transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.db.rows import proposal_from_row
from api.db.tables import (
    CustomerRow,
    RelationshipStateRow,
    StateChangeProposalRow,
    StateChangeRow,
)
from api.db.transaction import SqlTransaction
from domain.errors import NotFound
from domain.relationship_changes import Move, proposal_deadline
from domain.relationships import (
    Proposal,
    ProposalStatus,
    ReasonCode,
    Relationship,
    RelationshipState,
)

states = RelationshipStateRow.__table__.c
proposals = StateChangeProposalRow.__table__.c


class SqlRelationshipUnitOfWork(SqlTransaction):
    """Shares the transaction handling and the outbox with the recording unit of work."""

    async def __aenter__(self) -> SqlRelationshipUnitOfWork:
        await super().__aenter__()
        return self

    async def relationship_for_update(self, customer_id: int) -> Relationship:
        created = await self.conn.scalar(
            select(CustomerRow.created_at).where(CustomerRow.id == customer_id)
        )
        if created is None:
            raise NotFound("customer", str(customer_id))
        # A customer never classified is normal since onboarding, at version 0.
        await self.conn.execute(
            pg_insert(RelationshipStateRow)
            .values(
                customer_id=customer_id,
                state=RelationshipState.NORMAL.value,
                since=created,
                version=0,
            )
            .on_conflict_do_nothing(index_elements=[states.customer_id])
        )
        row = (
            await self.conn.execute(
                select(states.state, states.since, states.version)
                .where(states.customer_id == customer_id)
                .with_for_update()
            )
        ).one()
        return Relationship(customer_id, RelationshipState(row.state), row.since, row.version)

    async def apply(
        self,
        current: Relationship,
        to_state: RelationshipState,
        reason: ReasonCode,
        note: str | None,
        actor: str,
        at: datetime,
    ) -> Relationship:
        version = current.version + 1
        await self.conn.execute(
            update(RelationshipStateRow)
            .where(states.customer_id == current.customer_id, states.version == current.version)
            .values(state=to_state.value, since=at, version=version)
        )
        await self.conn.execute(
            insert(StateChangeRow).values(
                customer_id=current.customer_id,
                from_state=current.state.value,
                to_state=to_state.value,
                reason_code=reason.value,
                note=note,
                actor=actor,
                occurred_at=at,
            )
        )
        return Relationship(current.customer_id, to_state, at, version)

    async def pending_proposal(self, customer_id: int) -> Proposal | None:
        row = (
            await self.conn.execute(
                select(StateChangeProposalRow.__table__).where(
                    proposals.customer_id == customer_id,
                    proposals.status == ProposalStatus.PENDING.value,
                )
            )
        ).first()
        return None if row is None else proposal_from_row(row)

    async def add_proposal(
        self, move: Move, from_state: RelationshipState, actor: str, at: datetime
    ) -> Proposal:
        row = (
            await self.conn.execute(
                insert(StateChangeProposalRow)
                .values(
                    customer_id=move.customer_id,
                    from_state=from_state.value,
                    to_state=move.to_state.value,
                    reason_code=move.reason_code.value,
                    note=move.note,
                    proposed_by=actor,
                    proposed_at=at,
                    deadline=proposal_deadline(at),
                    base_version=move.expected_version,
                    status=ProposalStatus.PENDING.value,
                )
                .returning(StateChangeProposalRow.__table__)
            )
        ).one()
        return proposal_from_row(row)

    async def proposal_for_update(self, proposal_id: int) -> Proposal | None:
        row = (
            await self.conn.execute(
                select(StateChangeProposalRow.__table__)
                .where(proposals.id == proposal_id)
                .with_for_update()
            )
        ).first()
        return None if row is None else proposal_from_row(row)

    async def decide(
        self, proposal_id: int, status: ProposalStatus, checker: str, note: str | None, at: datetime
    ) -> None:
        await self.conn.execute(
            update(StateChangeProposalRow)
            .where(proposals.id == proposal_id)
            .values(status=status.value, decided_by=checker, decided_at=at, decision_note=note)
        )
