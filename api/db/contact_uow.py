"""A customer's contact points, changed in one transaction (domain/customers/contact_changes.py)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.rows import contact_point_from_row
from api.db.tables import ContactPointRow, CustomerRow
from domain.customers.model import ContactKind, ContactPoint
from domain.errors import NotFound

_points = ContactPointRow.__table__.c


class SqlContactUnitOfWork(SqlMasterDataTransaction):
    async def contact_points_for_update(self, customer_id: int) -> list[ContactPoint]:
        # The customer row first: two edits of one customer's contacts run one after the other.
        found = await self.conn.scalar(
            select(CustomerRow.id).where(CustomerRow.id == customer_id).with_for_update()
        )
        if found is None:
            raise NotFound("customer", str(customer_id))
        rows = await self.conn.execute(
            select(ContactPointRow.__table__)
            .where(_points.customer_id == customer_id)
            .order_by(_points.id)
        )
        return [contact_point_from_row(r) for r in rows]

    async def add_contact_point(
        self, customer_id: int, kind: ContactKind, value: str, label: str | None
    ) -> int:
        new_id: int = await self.conn.scalar(
            insert(ContactPointRow)
            .values(customer_id=customer_id, kind=kind.value, value=value, label=label)
            .returning(_points.id)
        )
        return new_id

    async def save_contact_point(self, point: ContactPoint) -> None:
        await self.conn.execute(
            update(ContactPointRow)
            .where(_points.id == point.id)
            .values(
                value=point.value,
                label=point.label,
                is_preferred=point.is_preferred,
                verified=point.verified,
            )
        )

    async def remove_contact_point(self, contact_point_id: int) -> None:
        await self.conn.execute(delete(ContactPointRow).where(_points.id == contact_point_id))
