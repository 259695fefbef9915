"""SqlAuditLog: the AuditLog port on PostgreSQL, written in groups.

Every read of personal data waits for its audit row to be committed before the data leaves
(domain/access/audit.py). One INSERT and one commit per read made the audit the largest single
cost of a cached profile. Concurrent reads therefore share a statement: the first read to
arrive writes at once; reads arriving while that write is under way wait and go together in
the next one (group commit). No read waits for a timer, none is answered before its own row is
committed, and a group that fails is written again row by row so one bad row fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import autocommit
from api.db.tables import AuditRecordRow
from api.metrics import AUDIT_GROUP, AUDIT_QUEUE
from api.outages import dependency_of
from domain.access.audit import AuditEntry, AuditPage, AuditRecord, StillCurrent

log = logging.getLogger(__name__)

records = AuditRecordRow.__table__

GROUP_LIMIT = 200  # rows per statement; a busier moment is written in several

# The rows arrive as parallel arrays (one element per read); a row with a `cid` is written only
# if that customer's change counter and the reference-data counter are still what its cached
# answer was built from (api/redis/response_cache.py). `current` is computed once and both inserted
# and returned, so the caller learns exactly which rows were written.
_WRITE = text(
    """
    WITH candidate AS (
        SELECT * FROM unnest(
            CAST(:occurred_at AS timestamptz[]), CAST(:correlation_id AS text[]),
            CAST(:subject AS text[]), CAST(:role AS text[]), CAST(:channel AS text[]),
            CAST(:purpose AS text[]), CAST(:operation AS text[]), CAST(:customer_ids AS text[]),
            CAST(:fields AS text[]), CAST(:outcome AS text[]), CAST(:cid AS bigint[]),
            CAST(:version AS bigint[]), CAST(:reference AS bigint[])
        ) WITH ORDINALITY AS e(occurred_at, correlation_id, subject, role, channel, purpose,
                               operation, customer_ids, fields, outcome, cid, version,
                               reference, n)
    ), current AS (
        SELECT * FROM candidate c
        WHERE c.cid IS NULL OR (
            coalesce((SELECT v.version FROM profile_versions v WHERE v.customer_id = c.cid), 0)
                = c.version
            AND coalesce((SELECT v.version FROM profile_versions v WHERE v.customer_id = 0), 0)
                = c.reference)
    ), written AS (
        INSERT INTO audit_records (occurred_at, correlation_id, subject, role, channel,
                                   purpose, operation, customer_ids, fields, outcome)
        SELECT occurred_at, correlation_id, subject, role, channel, purpose, operation,
               CAST(customer_ids AS bigint[]), CAST(fields AS text[]), outcome
        FROM current ORDER BY n
    )
    SELECT n FROM current
    """
)


def _text_array(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of texts (every element quoted, so any text is safe)."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _int_array(values: Sequence[int]) -> str:
    return "{" + ",".join(str(int(v)) for v in values) + "}"


_Pending = tuple[AuditEntry, StillCurrent | None, "asyncio.Future[bool]"]


class SqlAuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        # Each group commits on its own: the reads it documents are already done.
        self._engine = autocommit(engine)
        self._pending: list[_Pending] = []
        # The running writer, if any (held: the loop keeps only weak references to tasks).
        self._writer: asyncio.Task[None] | None = None

    async def record(self, entry: AuditEntry) -> None:
        await self._submit(entry, None)

    async def record_if_current(self, entry: AuditEntry, condition: StillCurrent) -> bool:
        """Write the entry if the answer is still current; False (nothing written) if not."""
        return await self._submit(entry, condition)

    async def _submit(self, entry: AuditEntry, condition: StillCurrent | None) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, condition, future))
        AUDIT_QUEUE.inc()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_pending())
        return await future

    async def _write_pending(self) -> None:
        # Returns (and is done) in the same step that finds nothing pending: a read queued
        # after that starts a new writer.
        while self._pending:
            group = self._pending[:GROUP_LIMIT]
            del self._pending[:GROUP_LIMIT]
            AUDIT_QUEUE.dec(len(group))
            AUDIT_GROUP.observe(len(group))
            try:
                written = await self._write(group)
            except Exception as exc:
                if dependency_of(exc) is not None:
                    # The database is away: every row fails alike; the outage is logged once
                    # (api/outages.py) and each caller answers AUDIT_UNAVAILABLE.
                    for _, _, future in group:
                        _settle(future, error=True)
                elif len(group) > 1:
                    log.warning("an audit group failed; writing its rows one by one")
                    for one in group:
                        await self._write_alone(one)
                else:
                    log.exception("an audit row could not be written")
                    _settle(group[0][2], error=True)
                continue
            for n, (_, _, future) in enumerate(group, start=1):
                _settle(future, n in written)

    async def _write_alone(self, one: _Pending) -> None:
        try:
            _settle(one[2], bool(await self._write([one])))
        except Exception:
            log.exception("an audit row could not be written")
            _settle(one[2], error=True)

    async def _write(self, group: Sequence[_Pending]) -> set[int]:
        entries = [entry for entry, _, _ in group]
        conditions = [condition for _, condition, _ in group]
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _WRITE,
                {
                    "occurred_at": [e.occurred_at for e in entries],
                    "correlation_id": [e.correlation_id for e in entries],
                    "subject": [e.subject for e in entries],
                    "role": [e.role for e in entries],
                    "channel": [e.channel for e in entries],
                    "purpose": [e.purpose for e in entries],
                    "operation": [e.operation for e in entries],
                    "customer_ids": [_int_array(e.customer_ids) for e in entries],
                    "fields": [_text_array(e.fields) for e in entries],
                    "outcome": [e.outcome for e in entries],
                    "cid": [None if c is None else c.customer_id for c in conditions],
                    "version": [None if c is None else c.version for c in conditions],
                    "reference": [None if c is None else c.reference_version for c in conditions],
                },
            )
            written = {int(row[0]) for row in result}
            await conn.commit()  # nothing to do on AUTOCOMMIT; behind PgBouncer, the COMMIT
            return written

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


def _settle(future: asyncio.Future[bool], written: bool = False, *, error: bool = False) -> None:
    if future.done():  # the read was cancelled (its client left); the row stands regardless
        return
    if error:
        future.set_exception(AuditWriteFailed())
    else:
        future.set_result(written)


class AuditWriteFailed(Exception):
    """The audit row could not be written: the read it documents must not return data."""
