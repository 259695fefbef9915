"""Lists of reference data (branches, products, staff) and product variants, id-ordered pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.rows import branch_from_row, manager_from_row, product_from_row, variant_from_row
from api.db.tables import BranchRow, ProductRow, ProductVariantRow, RelationshipManagerRow
from domain.organisation import Branch, RelationshipManager
from domain.products import Product
from domain.reference_data import ProductVariant, ReferenceQuery

_branches = BranchRow.__table__
_products = ProductRow.__table__
_staff = RelationshipManagerRow.__table__
_variants = ProductVariantRow.__table__


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlReferenceData:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _page(
        self, table: Any, conditions: list[ColumnElement[bool]], after: int | None, limit: int
    ) -> Sequence[Any]:
        if after is not None:
            conditions.append(table.c.id > after)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(table).where(and_(*conditions)).order_by(table.c.id).limit(limit)
            )
            return rows.all()

    def _common(self, table: Any, query: ReferenceQuery, code: str) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [literal(True)]
        if query.search:
            pattern = _like(query.search)
            conditions.append(or_(table.c[code].ilike(pattern), table.c.name.ilike(pattern)))
        if query.code is not None:
            conditions.append(table.c[code] == query.code)
        return conditions

    async def branches(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[Branch]:
        conditions = self._common(_branches, query, "code")
        if not query.include_retired:
            conditions.append(_branches.c.retired_at.is_(None))
        return [branch_from_row(r) for r in await self._page(_branches, conditions, after, limit)]

    async def products(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[Product]:
        conditions = self._common(_products, query, "code")
        if not query.include_retired:
            conditions.append(_products.c.retired_at.is_(None))
        if query.category is not None:
            conditions.append(_products.c.category == query.category.value)
        rows = await self._page(_products, conditions, after, limit)
        return [product_from_row(r, r.id, r.code, r.name, r.currency, r.retired_at) for r in rows]

    async def staff(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[RelationshipManager]:
        conditions = self._common(_staff, query, "employee_no")
        if not query.include_retired:
            conditions.append(_staff.c.active)
        if query.branch_id is not None:
            conditions.append(_staff.c.branch_id == query.branch_id)
        return [manager_from_row(r) for r in await self._page(_staff, conditions, after, limit)]

    async def variants_by_product(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[ProductVariant]]:
        out: dict[int, list[ProductVariant]] = defaultdict(list)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_variants)
                .where(_variants.c.product_id == func.any(literal(list(ids), ARRAY(BigInteger))))
                .order_by(_variants.c.product_id, _variants.c.effective_from, _variants.c.id)
            )
            for row in rows:
                out[row.product_id].append(variant_from_row(row))
        return out
