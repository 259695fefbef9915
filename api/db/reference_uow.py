"""Reference data in PostgreSQL: branches, products and their variants, relationship managers,
keyed by the systems that own them (domain/reference_data.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.db.rows import variant_from_row
from api.db.tables import (
    BranchRow,
    ProductRow,
    ProductVariantRow,
    ReferenceKeyRow,
    RelationshipManagerRow,
)
from api.db.transaction import SqlTransaction
from domain.customers.source_keys import SourceKey
from domain.reference_data import (
    BranchDraft,
    ProductDraft,
    ProductVariant,
    ReferenceKind,
    StaffDraft,
    VariantDraft,
)

_keys = ReferenceKeyRow.__table__.c
_variants = ProductVariantRow.__table__.c
_TABLES: dict[ReferenceKind, tuple[Any, str]] = {
    ReferenceKind.BRANCH: (BranchRow.__table__, "code"),
    ReferenceKind.PRODUCT: (ProductRow.__table__, "code"),
    ReferenceKind.STAFF: (RelationshipManagerRow.__table__, "employee_no"),
}


class SqlReferenceUnitOfWork(SqlTransaction):
    async def keyed(self, kind: ReferenceKind, key: SourceKey) -> int | None:
        found: int | None = await self.conn.scalar(
            select(_keys.record_id).where(
                _keys.kind == kind.value, _keys.system == key.system, _keys.key == key.key
            )
        )
        return found

    async def by_code(self, kind: ReferenceKind, code: str) -> int | None:
        table, column = _TABLES[kind]
        found: int | None = await self.conn.scalar(
            select(table.c.id).where(table.c[column] == code).with_for_update()
        )
        return found

    async def key_of(self, kind: ReferenceKind, record_id: int, system: str) -> str | None:
        found: str | None = await self.conn.scalar(
            select(_keys.key).where(
                _keys.kind == kind.value, _keys.record_id == record_id, _keys.system == system
            )
        )
        return found

    async def link(self, kind: ReferenceKind, key: SourceKey, record_id: int) -> None:
        await self.conn.execute(
            insert(ReferenceKeyRow).values(
                kind=kind.value, system=key.system, key=key.key, record_id=record_id
            )
        )

    async def _save(self, table: Table, record_id: int | None, values: dict[str, Any]) -> int:
        if record_id is None:
            new_id: int = await self.conn.scalar(insert(table).values(values).returning(table.c.id))
            return new_id
        await self.conn.execute(update(table).where(table.c.id == record_id).values(values))
        return record_id

    async def save_branch(
        self, record_id: int | None, draft: BranchDraft, parent: int | None
    ) -> int:
        values = {
            "code": draft.code,
            "name": draft.name,
            "city": draft.city,
            "kind": draft.kind.value,
            "parent_id": parent,
        }
        return await self._save(BranchRow.__table__, record_id, values)  # type: ignore[arg-type]

    async def save_product(self, record_id: int | None, draft: ProductDraft) -> int:
        values = {
            "code": draft.code,
            "name": draft.name,
            "category": draft.category.value,
            "audience": draft.audience.value,
            "currency": draft.currency,
        }
        return await self._save(ProductRow.__table__, record_id, values)  # type: ignore[arg-type]

    async def save_staff(self, record_id: int | None, draft: StaffDraft, branch: int) -> int:
        values = {
            "employee_no": draft.employee_no,
            "name": draft.name,
            "grade": draft.grade,
            "branch_id": branch,
            "active": draft.active,
        }
        table = RelationshipManagerRow.__table__
        return await self._save(table, record_id, values)  # type: ignore[arg-type]

    async def save_variant(
        self, product_id: int, draft: VariantDraft
    ) -> tuple[ProductVariant, bool]:
        values = {
            "name": draft.name,
            "term_months": draft.term_months,
            "interest_rate": draft.interest_rate,
            "currency": draft.currency,
            "fee": draft.fee,
            "fee_note": draft.fee_note,
            "effective_from": draft.effective_from,
            "effective_to": draft.effective_to,
        }
        row = (
            await self.conn.execute(
                pg_insert(ProductVariantRow)
                .values(product_id=product_id, code=draft.code, **values)
                .on_conflict_do_update(
                    index_elements=[_variants.product_id, _variants.code], set_=values
                )
                # xmax is 0 for a row this statement inserted, the locker's id for one it updated.
                .returning(
                    *ProductVariantRow.__table__.columns,
                    literal_column("(xmax = 0)").label("created"),
                )
            )
        ).one()
        return variant_from_row(row), bool(row.created)

    async def retire(self, kind: ReferenceKind, record_id: int) -> bool:
        table, _ = _TABLES[kind]
        retired = await self.conn.scalar(
            update(table)
            .where(table.c.id == record_id, table.c.retired_at.is_(None))
            .values(retired_at=func.now())
            .returning(table.c.id)
        )
        return retired is not None
