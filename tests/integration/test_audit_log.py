"""The read audit written in groups: every read gets its own committed row, concurrent reads
share a statement, a stale cached answer writes nothing, and a bad row fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.audit_log import AuditWriteFailed, SqlAuditLog
from domain.access.audit import AuditEntry, StillCurrent
from tests.factories import make_customer
from tests.statements import StatementCounter


def _entry(correlation_id: str, customer_id: int, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "occurred_at": datetime.now(UTC),
        "correlation_id": correlation_id,
        "subject": "agent-audit",
        "role": "agent",
        "channel": "call_center",
        "purpose": "service",
        "operation": "Profile",
        "customer_ids": (customer_id,),
        "fields": ("Customer.displayName:clear", 'Odd."quoted",{braced}\\slash:masked'),
        "outcome": "returned",
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


async def _rows(engine: AsyncEngine, prefix: str) -> dict[str, tuple[list[int], list[str]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT correlation_id, customer_ids, fields FROM audit_records "
                "WHERE correlation_id LIKE :p"
            ),
            {"p": f"{prefix}%"},
        )
        return {r.correlation_id: (list(r.customer_ids), list(r.fields)) for r in rows}


async def _version(engine: AsyncEngine, customer_id: int) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT coalesce((SELECT version FROM profile_versions "
                    "WHERE customer_id = :c), 0), coalesce((SELECT version FROM "
                    "profile_versions WHERE customer_id = 0), 0)"
                ),
                {"c": customer_id},
            )
        ).one()
        return int(row[0]), int(row[1])


async def test_concurrent_reads_share_statements_and_each_gets_its_row(
    engine: AsyncEngine, statements: StatementCounter, seeded: int
) -> None:
    made = await make_customer(engine)
    log = SqlAuditLog(engine)
    with statements.capture() as sent:
        await asyncio.gather(*(log.record(_entry(f"group-{n}", made.id)) for n in range(30)))
    written = await _rows(engine, "group-")
    assert sorted(written) == sorted(f"group-{n}" for n in range(30))
    # Every element arrives intact, quotes, braces and backslashes included.
    assert set(map(str, written.values())) == {
        str(([made.id], ["Customer.displayName:clear", 'Odd."quoted",{braced}\\slash:masked']))
    }
    # The writer starts on the loop's next turn, when all 30 reads have queued: one statement.
    assert len(sent) == 1, "\n\n".join(sent)


async def test_a_stale_answer_writes_nothing_and_a_current_one_in_the_same_group_does(
    engine: AsyncEngine, seeded: int
) -> None:
    made = await make_customer(engine)
    log = SqlAuditLog(engine)
    version, reference = await _version(engine, made.id)
    current = StillCurrent(made.id, version, reference)
    stale = StillCurrent(made.id, version - 1, reference)
    stale_reference = StillCurrent(made.id, version, reference + 1)
    outcomes = await asyncio.gather(
        log.record_if_current(_entry("cond-current", made.id), current),
        log.record_if_current(_entry("cond-stale", made.id), stale),
        log.record_if_current(_entry("cond-reference", made.id), stale_reference),
        log.record(_entry("cond-plain", made.id)),
    )
    assert list(outcomes) == [True, False, False, None]
    assert sorted(await _rows(engine, "cond-")) == ["cond-current", "cond-plain"]


async def test_a_row_that_cannot_be_written_fails_alone(engine: AsyncEngine, seeded: int) -> None:
    made = await make_customer(engine)
    log = SqlAuditLog(engine)
    outcomes = await asyncio.gather(
        log.record(_entry("alone-ok-1", made.id)),
        log.record(_entry("alone-bad", made.id, subject="x" * 300)),  # longer than the column
        log.record(_entry("alone-ok-2", made.id)),
        return_exceptions=True,
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], AuditWriteFailed)
    assert outcomes[2] is None
    assert sorted(await _rows(engine, "alone-")) == ["alone-ok-1", "alone-ok-2"]


async def test_a_read_that_is_cancelled_still_leaves_its_row(
    engine: AsyncEngine, seeded: int
) -> None:
    made = await make_customer(engine)
    log = SqlAuditLog(engine)
    first = asyncio.ensure_future(log.record(_entry("cancel-first", made.id)))
    second = asyncio.ensure_future(log.record(_entry("cancel-second", made.id)))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    for _ in range(100):  # the group it joined is written regardless
        if len(await _rows(engine, "cancel-")) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(await _rows(engine, "cancel-")) == ["cancel-first", "cancel-second"]
