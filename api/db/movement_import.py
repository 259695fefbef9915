"""Imported fund movements in PostgreSQL (domain/imports/movements.py): holdings by reference
and earlier bookings in one statement each, new ones by COPY."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from api.db.import_runs import SqlImportTransaction
from domain.imports.movements import HoldingOwner, NewMovement

_OWNERS = text(
    "SELECT source_ref, id, customer_id, currency FROM holdings WHERE source_ref = ANY(:refs)"
)
_RECORDED = text(
    "SELECT external_ref, id, request_hash FROM fund_movements WHERE external_ref = ANY(:refs)"
)
_COLUMNS = (
    "holding_id", "customer_id", "amount", "currency", "direction", "counterparty_kind",
    "channel", "booked_at", "external_ref", "request_hash", "source",
)  # fmt: skip


class SqlMovementImportTransaction(SqlImportTransaction):
    async def holdings_by_ref(self, refs: Sequence[str]) -> dict[str, HoldingOwner]:
        rows = await self.conn.execute(_OWNERS, {"refs": list(refs)})
        return {r.source_ref: HoldingOwner(r.id, r.customer_id, r.currency) for r in rows}

    async def recorded(self, refs: Sequence[str]) -> dict[str, tuple[int, str]]:
        rows = await self.conn.execute(_RECORDED, {"refs": list(refs)})
        return {r.external_ref: (r.id, r.request_hash) for r in rows}

    async def add_movements(self, movements: Sequence[NewMovement], source: str) -> dict[str, int]:
        driver = await self.driver()
        await driver.copy_records_to_table(
            "fund_movements",
            records=[
                (
                    m.movement.holding_id,
                    m.customer_id,
                    m.movement.amount,
                    m.movement.currency,
                    m.movement.direction.value,
                    m.movement.counterparty_kind.value,
                    m.movement.channel.value,
                    m.movement.booked_at,
                    m.movement.external_ref,
                    m.fingerprint,
                    source[:100],
                )
                for m in movements
            ],
            columns=_COLUMNS,
        )
        rows = await self.conn.execute(
            _RECORDED, {"refs": [m.movement.external_ref for m in movements]}
        )
        return {r.external_ref: r.id for r in rows}
