"""SqlRecordingUnitOfWork: the recording use cases' statements (interactions, tasks, fund
movements, holdings), in one transaction (api/db/transaction.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.rows import task_from_row
from api.db.tables import (
    AlertRow,
    BranchRow,
    CustomerRow,
    FundMovementRow,
    HoldingRow,
    InteractionRow,
    ProductRow,
    RelationshipManagerRow,
    TaskRow,
)
from domain.customers.model import LifecycleStatus
from domain.detection.alerts import AlertStatus
from domain.errors import InvalidInput, NotFound
from domain.fund_movements import NewFundMovement
from domain.interactions import NewInteraction
from domain.recording import (
    HoldingChange,
    HoldingUpserted,
)
from domain.tasks import NewTask, Task, TaskStatus

# The statements every recorded interaction runs, built once: SQLAlchemy then compiles and
# keys each once, instead of rebuilding a statement per call (measured: about a quarter of a
# write's CPU went to building them).
_CUSTOMER_RM = (
    select(CustomerRow.relationship_manager_id)
    .where(CustomerRow.id == bindparam("customer_id"))
    .with_for_update(read=True)
)
_ADD_INTERACTION = insert(InteractionRow).returning(InteractionRow.id)
_ADD_TASK = insert(TaskRow).returning(TaskRow.id)


class SqlRecordingUnitOfWork(SqlMasterDataTransaction):
    async def customer_rm(self, customer_id: int) -> int | None:
        # FOR SHARE: the customer cannot be erased or deleted under the write.
        row = (await self.conn.execute(_CUSTOMER_RM, {"customer_id": customer_id})).first()
        if row is None:
            raise NotFound("customer", str(customer_id))
        rm_id: int | None = row[0]
        return rm_id

    async def unknown_products(self, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        found = await self.conn.scalars(
            select(ProductRow.id).where(
                ProductRow.id == func.any(literal(list(ids), ARRAY(BigInteger)))
            )
        )
        return set(ids) - set(found)

    async def branch_exists(self, branch_id: int) -> bool:
        return (
            await self.conn.scalar(select(BranchRow.id).where(BranchRow.id == branch_id))
            is not None
        )

    async def active_rm_exists(self, rm_id: int) -> bool:
        found = await self.conn.scalar(
            select(RelationshipManagerRow.id).where(
                RelationshipManagerRow.id == rm_id, RelationshipManagerRow.active
            )
        )
        return found is not None

    async def add_interaction(self, interaction: NewInteraction, recorded_by: str) -> int:
        new_id: int | None = await self.conn.scalar(
            _ADD_INTERACTION,
            {
                "customer_id": interaction.customer_id,
                "channel": interaction.channel.value,
                "kind": interaction.kind.value,
                "occurred_at": interaction.occurred_at,
                "branch_id": interaction.branch_id,
                "staff_code": interaction.staff_code,
                "cost": interaction.cost,
                "outcome": None if interaction.outcome is None else interaction.outcome.value,
                "summary": interaction.summary,
                "satisfaction": interaction.satisfaction,
                "offers": list(interaction.offers),
                "products_discussed": list(interaction.products_discussed),
                "recorded_by": recorded_by,
            },
        )
        assert new_id is not None
        return new_id

    async def add_task(self, task: NewTask, created_by: str) -> int:
        new_id: int | None = await self.conn.scalar(
            _ADD_TASK,
            {
                "customer_id": task.customer_id,
                "kind": task.kind.value,
                "status": TaskStatus.OPEN.value,
                "title": task.title,
                "owner_kind": task.owner.kind.value,
                "owner_ref": task.owner.ref,
                "due_at": task.due_at,
                "created_by": created_by,
                "source_interaction_id": task.source_interaction_id,
            },
        )
        assert new_id is not None
        return new_id

    async def task_for_update(self, task_id: int) -> Task | None:
        row = (
            await self.conn.execute(
                select(TaskRow.__table__).where(TaskRow.id == task_id).with_for_update()
            )
        ).first()
        return None if row is None else task_from_row(row)

    async def complete_task(
        self, task_id: int, result: str, satisfaction: int | None, result_interaction_id: int
    ) -> None:
        await self.conn.execute(
            update(TaskRow)
            .where(TaskRow.id == task_id)
            .values(
                status=TaskStatus.DONE.value,
                result=result,
                satisfaction=satisfaction,
                result_interaction_id=result_interaction_id,
                completed_at=func.now(),
            )
        )

    async def close_alerts_for_task(self, task_id: int) -> list[int]:
        closed = await self.conn.scalars(
            update(AlertRow)
            .where(AlertRow.task_id == task_id, AlertRow.status != AlertStatus.CLOSED.value)
            .values(status=AlertStatus.CLOSED.value, closed_at=func.now())
            .returning(AlertRow.id)
        )
        return list(closed)

    async def holding_owner(self, holding_id: int) -> tuple[int, str] | None:
        row = (
            await self.conn.execute(
                select(HoldingRow.customer_id, HoldingRow.currency).where(
                    HoldingRow.id == holding_id
                )
            )
        ).first()
        return None if row is None else (row.customer_id, row.currency)

    async def add_fund_movement(
        self, customer_id: int, movement: NewFundMovement, fingerprint: str, source: str
    ) -> tuple[int, str | None]:
        m = FundMovementRow.__table__.c
        inserted = await self.conn.scalar(
            pg_insert(FundMovementRow)
            .values(
                holding_id=movement.holding_id,
                customer_id=customer_id,
                amount=movement.amount,
                currency=movement.currency,
                direction=movement.direction.value,
                counterparty_kind=movement.counterparty_kind.value,
                channel=movement.channel.value,
                booked_at=movement.booked_at,
                external_ref=movement.external_ref,
                request_hash=fingerprint,
                source=source,
            )
            .on_conflict_do_nothing(index_elements=[m.external_ref])
            .returning(m.id)
        )
        if inserted is not None:
            return inserted, None
        prior = (
            await self.conn.execute(
                select(m.id, m.request_hash).where(m.external_ref == movement.external_ref)
            )
        ).one()
        return prior.id, prior.request_hash

    async def convert_prospect(self, customer_id: int) -> bool:
        converted = await self.conn.scalar(
            update(CustomerRow)
            .where(
                CustomerRow.id == customer_id,
                CustomerRow.lifecycle_status == LifecycleStatus.PROSPECT.value,
            )
            .values(lifecycle_status=LifecycleStatus.ACTIVE.value, converted_at=func.now())
            .returning(CustomerRow.id)
        )
        return converted is not None

    async def upsert_holding(self, change: HoldingChange) -> HoldingUpserted:
        product = (
            await self.conn.execute(
                select(ProductRow.id, ProductRow.retired_at).where(
                    ProductRow.code == change.product_code
                )
            )
        ).first()
        if product is None:
            raise InvalidInput("productCode", f"unknown product {change.product_code}")
        product_id = product.id
        h = HoldingRow.__table__.c
        # Lock an existing row so two feed records for one holding apply one after the other.
        current = (
            await self.conn.execute(
                select(HoldingRow.__table__)
                .where(h.source_ref == change.source_ref)
                .with_for_update()
            )
        ).first()
        values = {
            "customer_id": change.customer_id,
            "product_id": product_id,
            "account_number": change.account_number,
            "currency": change.currency,
            "balance": change.balance,
            "credit_limit": change.credit_limit,
            "status": change.status.value,
            "opened_on": change.opened_on,
            "closed_on": change.closed_on,
        }
        if current is None:
            if product.retired_at is not None:  # kept for the holdings it has, offered no more
                raise InvalidInput("productCode", f"{change.product_code} is retired")
            new_id: int | None = await self.conn.scalar(
                insert(HoldingRow).values(source_ref=change.source_ref, **values).returning(h.id)
            )
            assert new_id is not None
            return HoldingUpserted(
                new_id, "closed" if change.status.value == "closed" else "opened"
            )
        if current.customer_id != change.customer_id:
            raise InvalidInput("customerId", "the source reference belongs to another customer")
        if all(getattr(current, k) == v for k, v in values.items()):
            return HoldingUpserted(current.id, "unchanged")
        await self.conn.execute(update(HoldingRow).where(h.id == current.id).values(**values))
        closing = change.status.value == "closed" and current.status != "closed"
        return HoldingUpserted(current.id, "closed" if closing else "changed")
