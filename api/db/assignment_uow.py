"""SqlAssignmentUnitOfWork: RM assignments and branch ownership in one transaction.

The primary RM is one column of the customer row (`customers.relationship_manager_id`), so a
customer can never have two; the row is locked (FOR UPDATE, in id order) before the current
RM is read, so concurrent assignments queue and each records the move from the RM the one
before it set. Shares the recording unit of work's outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import text

from api.db.rows import assignment_from_row, branch_from_row, claim_from_row, manager_from_row
from api.db.transaction import SqlTransaction
from domain.assignment import OwnershipClaim, RmAssignment, TeamMember
from domain.organisation import Branch, RelationshipManager
from domain.tasks import OwnerKind
from domain.value.tiers import ValueTier


class SqlAssignmentUnitOfWork(SqlTransaction):
    async def __aenter__(self) -> SqlAssignmentUnitOfWork:
        await super().__aenter__()
        return self

    async def relationship_manager(self, rm_id: int) -> RelationshipManager | None:
        row = (
            await self.conn.execute(
                text("SELECT * FROM relationship_managers WHERE id = :id"), {"id": rm_id}
            )
        ).one_or_none()
        return None if row is None else manager_from_row(row)

    async def branch(self, branch_id: int) -> Branch | None:
        row = (
            await self.conn.execute(
                text("SELECT * FROM branches WHERE id = :id"), {"id": branch_id}
            )
        ).one_or_none()
        return None if row is None else branch_from_row(row)

    async def lock_customers(self, ids: Sequence[int]) -> Mapping[int, int | None]:
        rows = await self.conn.execute(
            text(
                "SELECT id, relationship_manager_id FROM customers WHERE id = ANY(:ids) "
                "ORDER BY id FOR UPDATE"
            ),
            {"ids": list(ids)},
        )
        return {r.id: r.relationship_manager_id for r in rows}

    async def lock_portfolio(self, rm_id: int) -> list[int]:
        rows = await self.conn.execute(
            text(
                "SELECT id FROM customers WHERE relationship_manager_id = :rm "
                "ORDER BY id FOR UPDATE"
            ),
            {"rm": rm_id},
        )
        return [r.id for r in rows]

    async def tiers(self, ids: Sequence[int]) -> Mapping[int, ValueTier]:
        rows = await self.conn.execute(
            text(
                "SELECT customer_id, tier FROM customer_values "
                "WHERE period = (SELECT max(period) FROM value_periods) "
                "AND customer_id = ANY(:ids)"
            ),
            {"ids": list(ids)},
        )
        return {r.customer_id: ValueTier(r.tier) for r in rows}

    async def move(
        self,
        ids: Sequence[int],
        from_rm: Mapping[int, int | None],
        to_rm: int,
        reason: str,
        actor: str,
        at: datetime,
    ) -> list[RmAssignment]:
        if not ids:
            return []
        olds = [from_rm[i] for i in ids]
        await self.conn.execute(
            text("UPDATE customers SET relationship_manager_id = :rm WHERE id = ANY(:ids)"),
            {"rm": to_rm, "ids": list(ids)},
        )
        rows = await self.conn.execute(
            text(
                "INSERT INTO rm_assignments (customer_id, from_rm_id, to_rm_id, reason, actor, "
                "occurred_at) SELECT c, f, :rm, :reason, :actor, :at "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:olds AS bigint[])) AS m(c, f) "
                "ORDER BY c RETURNING *"
            ),
            {
                "ids": list(ids),
                "olds": olds,
                "rm": to_rm,
                "reason": reason,
                "actor": actor,
                "at": at,
            },
        )
        moved = [assignment_from_row(r) for r in rows]
        # The successor takes over the open work the old RMs had for these customers.
        await self.conn.execute(
            text(
                "UPDATE tasks SET owner_ref = :new FROM unnest(CAST(:ids AS bigint[]), "
                "CAST(:olds AS text[])) AS m(c, f) WHERE tasks.customer_id = m.c "
                "AND tasks.owner_kind = :kind AND tasks.owner_ref = m.f "
                "AND tasks.status NOT IN ('done', 'cancelled')"
            ),
            {
                "ids": list(ids),
                "olds": [None if o is None else str(o) for o in olds],
                "new": str(to_rm),
                "kind": OwnerKind.RM.value,
            },
        )
        await self.conn.execute(
            text("DELETE FROM rm_team_members WHERE rm_id = :rm AND customer_id = ANY(:ids)"),
            {"rm": to_rm, "ids": list(ids)},
        )
        return moved

    async def replace_team(self, customer_id: int, team: Sequence[TeamMember], actor: str) -> None:
        await self.conn.execute(
            text("DELETE FROM rm_team_members WHERE customer_id = :c"), {"c": customer_id}
        )
        if team:
            await self.conn.execute(
                text(
                    "INSERT INTO rm_team_members (customer_id, rm_id, role, added_by) "
                    "SELECT :c, r, role, :actor FROM unnest(CAST(:rms AS bigint[]), "
                    "CAST(:roles AS text[])) AS m(r, role)"
                ),
                {
                    "c": customer_id,
                    "rms": [m.rm_id for m in team],
                    "roles": [m.role for m in team],
                    "actor": actor,
                },
            )

    async def home_branch(self, customer_id: int) -> tuple[bool, int | None]:
        row = (
            await self.conn.execute(
                text("SELECT home_branch_id FROM customers WHERE id = :id FOR UPDATE"),
                {"id": customer_id},
            )
        ).one_or_none()
        return (False, None) if row is None else (True, row.home_branch_id)

    async def add_claim(
        self, customer_id: int, branch_id: int, note: str | None, actor: str, at: datetime
    ) -> OwnershipClaim | None:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO ownership_claims (customer_id, branch_id, note, status, "
                    "claimed_by, claimed_at) VALUES (:c, :b, :note, 'open', :actor, :at) "
                    "ON CONFLICT (customer_id, branch_id) WHERE status = 'open' DO NOTHING "
                    "RETURNING *"
                ),
                {"c": customer_id, "b": branch_id, "note": note, "actor": actor, "at": at},
            )
        ).one_or_none()
        return None if row is None else claim_from_row(row)

    async def resolve(
        self, customer_id: int, branch_id: int, actor: str, at: datetime
    ) -> list[OwnershipClaim]:
        await self.conn.execute(
            text("UPDATE customers SET home_branch_id = :b WHERE id = :c"),
            {"b": branch_id, "c": customer_id},
        )
        rows = await self.conn.execute(
            text(
                "UPDATE ownership_claims SET status = CASE WHEN branch_id = :b THEN 'granted' "
                "ELSE 'rejected' END, resolved_by = :actor, resolved_at = :at "
                "WHERE customer_id = :c AND status = 'open' RETURNING *"
            ),
            {"b": branch_id, "c": customer_id, "actor": actor, "at": at},
        )
        return sorted((claim_from_row(r) for r in rows), key=lambda c: c.id)
