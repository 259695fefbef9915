"""Customers' keys in the bank's other systems, in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.tables import CustomerRow, CustomerSourceKeyRow, HoldingRow
from domain.customers.source_keys import SourceKey, SourceKeyTaken
from domain.errors import NotFound

_keys = CustomerSourceKeyRow.__table__.c


class SqlSourceKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def customer_of(self, key: SourceKey) -> int | None:
        async with self._engine.connect() as conn:
            found: int | None = await conn.scalar(
                select(_keys.customer_id).where(_keys.system == key.system, _keys.key == key.key)
            )
        return found

    async def holding_of(self, source_ref: str) -> int | None:
        async with self._engine.connect() as conn:
            found: int | None = await conn.scalar(
                select(HoldingRow.id).where(HoldingRow.source_ref == source_ref)
            )
        return found

    async def has_key(self, customer_id: int, system: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(_keys.id)
                .where(_keys.customer_id == customer_id, _keys.system == system)
                .limit(1)
            )
        return found is not None

    async def link(self, customer_id: int, key: SourceKey, actor: str) -> bool:
        async with self._engine.begin() as conn:
            # FOR SHARE: the customer cannot be deleted under the new key.
            exists = await conn.scalar(
                select(CustomerRow.id)
                .where(CustomerRow.id == customer_id)
                .with_for_update(read=True)
            )
            if exists is None:
                raise NotFound("customer", str(customer_id))
            inserted = await conn.scalar(
                pg_insert(CustomerSourceKeyRow)
                .values(customer_id=customer_id, system=key.system, key=key.key, created_by=actor)
                .on_conflict_do_nothing(index_elements=[_keys.system, _keys.key])
                .returning(_keys.id)
            )
            if inserted is not None:
                return True
            holder = await conn.scalar(
                select(_keys.customer_id).where(_keys.system == key.system, _keys.key == key.key)
            )
        if holder != customer_id:
            raise SourceKeyTaken(f"{key.system} key {key.key} names another customer")
        return False
