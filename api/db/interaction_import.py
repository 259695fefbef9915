"""Imported interactions in PostgreSQL (domain/imports/interactions.py): customers, branches,
products and earlier imports resolved in one statement each, new interactions by COPY."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from api.db.import_runs import SqlImportTransaction
from domain.imports.interactions import NewImportedInteraction

_BRANCHES = text("SELECT code, id FROM branches WHERE code = ANY(:codes) AND retired_at IS NULL")
_PRODUCTS = text("SELECT code, id FROM products WHERE code = ANY(:codes)")
_IMPORTED = text(
    "SELECT source_ref, id, source_hash FROM interactions WHERE source_ref = ANY(:refs)"
)
_COLUMNS = (
    "customer_id", "channel", "kind", "occurred_at", "branch_id", "staff_code", "cost",
    "outcome", "summary", "satisfaction", "offers", "products_discussed", "recorded_by",
    "source_ref", "source_hash",
)  # fmt: skip


class SqlInteractionImportTransaction(SqlImportTransaction):
    async def branch_ids(self, codes: Sequence[str]) -> dict[str, int]:
        return {r.code: r.id for r in await self.conn.execute(_BRANCHES, {"codes": list(codes)})}

    async def product_ids(self, codes: Sequence[str]) -> dict[str, int]:
        return {r.code: r.id for r in await self.conn.execute(_PRODUCTS, {"codes": list(codes)})}

    async def imported(self, refs: Sequence[str]) -> dict[str, tuple[int, str]]:
        rows = await self.conn.execute(_IMPORTED, {"refs": list(refs)})
        return {r.source_ref: (r.id, r.source_hash) for r in rows}

    async def add_interactions(
        self, interactions: Sequence[NewImportedInteraction], actor: str
    ) -> dict[str, int]:
        driver = await self.driver()
        await driver.copy_records_to_table(
            "interactions",
            records=[
                (
                    n.interaction.customer_id,
                    n.interaction.channel.value,
                    n.interaction.kind.value,
                    n.interaction.occurred_at,
                    n.interaction.branch_id,
                    n.interaction.staff_code,
                    n.interaction.cost,
                    None if n.interaction.outcome is None else n.interaction.outcome.value,
                    n.interaction.summary,
                    n.interaction.satisfaction,
                    list(n.interaction.offers),
                    list(n.interaction.products_discussed),
                    actor,
                    n.source_ref,
                    n.fingerprint,
                )
                for n in interactions
            ],
            columns=_COLUMNS,
        )
        rows = await self.conn.execute(_IMPORTED, {"refs": [n.source_ref for n in interactions]})
        return {r.source_ref: r.id for r in rows}
