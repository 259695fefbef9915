"""SqlAuditLog: the AuditLog port on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.tables import AuditRecordRow
from domain.access.audit import AuditEntry, AuditPage, AuditRecord

records = AuditRecordRow.__table__

# Written once per read: a fixed statement compiles once (a generated insert().values() would
# rebuild and re-key its statement on every call).
_RECORD = text(
    """
    INSERT INTO audit_records (occurred_at, correlation_id, subject, role, channel, purpose,
                               operation, customer_ids, fields, outcome)
    VALUES (:occurred_at, :correlation_id, :subject, :role, :channel, :purpose, :operation,
            CAST(:customer_ids AS bigint[]), CAST(:fields AS text[]), :outcome)
    """
)


class SqlAuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        # One INSERT, committed on its own: the read it documents is already done.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def record(self, entry: AuditEntry) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(
                _RECORD,
                {
                    "occurred_at": entry.occurred_at,
                    "correlation_id": entry.correlation_id,
                    "subject": entry.subject,
                    "role": entry.role,
                    "channel": entry.channel,
                    "purpose": entry.purpose,
                    "operation": entry.operation,
                    "customer_ids": list(entry.customer_ids),
                    "fields": list(entry.fields),
                    "outcome": entry.outcome,
                },
            )

    async def trail(self, customer_id: int, first: int, before_id: int | None) -> AuditPage:
        stmt = select(records).where(records.c.customer_ids.contains([customer_id]))
        if before_id is not None:
            stmt = stmt.where(records.c.id < before_id)
        stmt = stmt.order_by(records.c.id.desc()).limit(first + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        items = tuple(
            AuditRecord(
                id=row.id,
                entry=AuditEntry(
                    occurred_at=row.occurred_at,
                    correlation_id=row.correlation_id,
                    subject=row.subject,
                    role=row.role,
                    channel=row.channel,
                    purpose=row.purpose,
                    operation=row.operation,
                    customer_ids=tuple(row.customer_ids),
                    fields=tuple(row.fields),
                    outcome=row.outcome,
                ),
            )
            for row in rows[:first]
        )
        return AuditPage(items=items, has_next_page=len(rows) > first)
