"""The dead letters: worker events that failed on every delivery, kept for an operator.

A message of the stream `qj:events` that the detector's handling failed on
QUANJING_WORKER_MAX_DELIVERIES times (for a reason of its own: an outage is retried without
counting against it) is copied here with why and when, and acknowledged, so it no longer
blocks or loops. `quanjing dead-letters list|requeue|drop` looks at them, puts them back on
the stream (after a fix) or drops them. The entry keeps the event as it was: its customer id
and topic, never more than the stream held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from api.metrics import DEAD_LETTERS
from api.redis.events import STREAM_FIELD
from api.redis.keys import DEAD_STREAM, STREAM

MAX_DEAD = 100_000  # trimmed beyond this (approximately), oldest first


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # in the dead-letter stream
    original_id: str  # in qj:events
    group: str
    error: str  # the exception's class: messages may hold data, the worker's log has them
    deliveries: int
    failed_at: str
    event: bytes


async def dead_letter(
    redis: aioredis.Redis,
    group: str,
    message_id: bytes,
    fields: dict[bytes, bytes],
    error: BaseException,
    deliveries: int,
) -> None:
    await redis.xadd(
        DEAD_STREAM,
        {
            STREAM_FIELD: fields.get(STREAM_FIELD, b""),
            b"original_id": message_id,
            b"group": group.encode(),
            b"error": type(error).__name__.encode(),
            b"deliveries": str(deliveries).encode(),
            b"failed_at": datetime.now(UTC).isoformat().encode(),
        },
        maxlen=MAX_DEAD,
        approximate=True,
    )
    DEAD_LETTERS.inc()


def _letter(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        id=entry_id.decode(),
        original_id=fields.get(b"original_id", b"").decode(),
        group=fields.get(b"group", b"").decode(),
        error=fields.get(b"error", b"").decode(),
        deliveries=int(fields.get(b"deliveries", b"0")),
        failed_at=fields.get(b"failed_at", b"").decode(),
        event=fields.get(STREAM_FIELD, b""),
    )


async def dead_letters(redis: aioredis.Redis, limit: int = 100) -> list[DeadLetter]:
    entries: Any = await redis.xrange(DEAD_STREAM, count=limit)
    return [_letter(entry_id, fields) for entry_id, fields in entries]


async def requeue(redis: aioredis.Redis, ids: list[str]) -> int:
    """Put the events back on the stream (as new entries: every group sees them again; the
    handlers are idempotent) and take them off the dead letters."""
    moved = 0
    for entry_id in ids:
        entries: Any = await redis.xrange(DEAD_STREAM, min=entry_id, max=entry_id)
        if not entries:
            continue
        _, fields = entries[0]
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xadd(STREAM, {STREAM_FIELD: fields[STREAM_FIELD]})
            pipe.xdel(DEAD_STREAM, entry_id)
            await pipe.execute()
        moved += 1
    return moved


async def drop(redis: aioredis.Redis, ids: list[str]) -> int:
    return int(await redis.xdel(DEAD_STREAM, *ids)) if ids else 0


async def dead_letter_count(redis: aioredis.Redis) -> int:
    return int(await redis.xlen(DEAD_STREAM))
