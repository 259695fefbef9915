"""Import runs in PostgreSQL (domain/imports/run.py): the run's record, and each batch's
refusals and checkpoint written in the batch's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.tables import ImportRefusalRow, ImportRunRow
from api.db.transaction import SqlTransaction
from domain.customers.history import FieldChange, category_of
from domain.customers.source_keys import SourceKey
from domain.imports.batches import RunContext
from domain.imports.records import Refusal, Tally
from domain.imports.run import ImportRunView, RunRequest, RunState, RunStatus

_runs = ImportRunRow.__table__.c
_refusals = ImportRefusalRow.__table__.c
MAX_MESSAGE = 500


CHANGE_COLUMNS = (
    "customer_id", "field", "category", "old_value", "new_value", "subject_id", "actor",
    "source_system", "correlation_id", "reason",
)  # fmt: skip


def change_row(
    customer_id: int, change: FieldChange, run: RunContext, system: str
) -> tuple[object, ...]:
    """A history entry (CHANGE_COLUMNS): the run's actor, the record's own system, the run
    as the correlation id."""
    author = run.author
    return (
        customer_id,
        change.field,
        category_of(change.field).value,
        change.old,
        change.new,
        change.subject_id,
        author.actor,
        system,
        author.correlation_id,
        author.reason,
    )


_CUSTOMERS = text(
    """
    SELECT s.n, k.customer_id
    FROM unnest(CAST(:systems AS text[]), CAST(:keys AS text[])) WITH ORDINALITY AS s(system, key, n)
    JOIN customer_source_keys k ON k.system = s.system AND k.key = s.key
    JOIN customers c ON c.id = k.customer_id AND c.erased_at IS NULL
    """
)


class SqlImportTransaction(SqlTransaction):
    def __init__(self, engine: AsyncEngine, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._begun = False

    async def driver(self) -> asyncpg.Connection:
        """The asyncpg connection under this transaction, for COPY. SQLAlchemy's adapter
        opens the transaction at its first statement: a COPY before it would run on its own
        (autocommitted, and the staged rows gone with ON COMMIT DELETE ROWS)."""
        if not self._begun:
            await self.conn.execute(text("SELECT 1"))
            self._begun = True
        raw = await self.conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        return driver

    async def customer_ids(self, keys: Sequence[SourceKey]) -> dict[SourceKey, int]:
        rows = await self.conn.execute(
            _CUSTOMERS, {"systems": [k.system for k in keys], "keys": [k.key for k in keys]}
        )
        return {keys[r.n - 1]: r.customer_id for r in rows}

    async def save_refusals(self, run_id: int, refusals: Sequence[Refusal]) -> None:
        if refusals:
            await self.conn.execute(
                insert(ImportRefusalRow),
                [
                    {
                        "run_id": run_id,
                        "line": r.line,
                        "source_key": None if r.source_key is None else r.source_key[:100],
                        "field": None if r.field is None else r.field[:100],
                        "code": r.code,
                        "message": r.message[:MAX_MESSAGE],
                    }
                    for r in refusals
                ],
            )

    async def checkpoint(self, run_id: int, last_line: int, tally: Tally) -> None:
        await self.conn.execute(
            update(ImportRunRow)
            .where(_runs.id == run_id)
            .values(last_line=last_line, counts=tally.as_dict())
        )


class SqlImportRuns:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def start(self, request: RunRequest) -> int:
        async with self._engine.begin() as conn:
            run_id: int = await conn.scalar(
                insert(ImportRunRow)
                .values(
                    kind=request.kind,
                    file_name=request.file_name[:500],
                    checksum=request.checksum,
                    actor=request.actor,
                    source_system=request.default_system,
                    dry_run=request.dry_run,
                    status=RunStatus.RUNNING,
                    counts=Tally().as_dict(),
                )
                .returning(_runs.id)
            )
        return run_id

    async def unfinished(self, kind: str, checksum: str) -> RunState | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_runs.id, _runs.last_line, _runs.counts)
                    .where(
                        _runs.kind == kind,
                        _runs.checksum == checksum,
                        _runs.status != RunStatus.COMPLETED,
                        _runs.dry_run.is_(False),
                    )
                    .order_by(_runs.id.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return RunState(row.id, row.last_line, Tally.from_dict(row.counts))

    async def finish(self, run_id: int, status: str, tally: Tally, seconds: float) -> None:
        async with self._engine.begin() as conn:
            values: dict[str, Any] = {"status": status, "seconds": seconds}
            if status == RunStatus.COMPLETED:
                values |= {"counts": tally.as_dict(), "finished_at": func.now()}
            await conn.execute(update(ImportRunRow).where(_runs.id == run_id).values(values))

    async def refusals(self, run_id: int) -> Sequence[Refusal]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(ImportRefusalRow.__table__)
                .where(_refusals.run_id == run_id)
                .order_by(_refusals.line, _refusals.id)
            )
            return [Refusal(r.line, r.source_key, r.field, r.code, r.message) for r in rows]

    async def runs(self, kind: str | None, before: int | None, limit: int) -> list[ImportRunView]:
        query = select(ImportRunRow.__table__).order_by(_runs.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(_runs.kind == kind)
        if before is not None:
            query = query.where(_runs.id < before)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [
                ImportRunView(
                    id=r.id,
                    kind=r.kind,
                    file_name=r.file_name,
                    checksum=r.checksum,
                    actor=r.actor,
                    source_system=r.source_system,
                    dry_run=r.dry_run,
                    status=r.status,
                    last_line=r.last_line,
                    tally=Tally.from_dict(r.counts),
                    seconds=r.seconds,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                )
                for r in rows
            ]

    async def refusal_page(
        self, run_id: int, after: int | None, limit: int
    ) -> list[tuple[int, Refusal]]:
        query = (
            select(ImportRefusalRow.__table__)
            .where(_refusals.run_id == run_id)
            .order_by(_refusals.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_refusals.id > after)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [(r.id, Refusal(r.line, r.source_key, r.field, r.code, r.message)) for r in rows]
