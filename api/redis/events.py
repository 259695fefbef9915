"""The outbox events' wire format in Redis, written once: the relay writes it
(api/worker/outbox_relay.py), the activity feed and the worker read it.

Each committed event is published on the customer's pub/sub channel (live subscribers) and
appended to one stream (the worker's consumer group), as the same JSON object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from api.redis.keys import LEGACY_STREAMS, STREAM, activity_channel
from domain.activity import ActivityEvent

# The stream and channel names live in api/redis/keys.py; re-exported for the readers here.
__all__ = [
    "STREAM",
    "STREAM_FIELD",
    "activity_channel",
    "adopt_legacy_streams",
    "decode",
    "encode",
    "from_stream",
]

STREAM_FIELD = b"event"  # the stream entry's one field


def encode(
    event_id: int, customer_id: int, topic: str, occurred_at: datetime, payload: Any
) -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "customerId": customer_id,
            "topic": topic,
            "occurredAt": occurred_at.isoformat(),
            "payload": payload,
        }
    )


def decode(data: bytes) -> ActivityEvent:
    fields = orjson.loads(data)
    return ActivityEvent(
        id=int(fields["id"]),
        customer_id=int(fields["customerId"]),
        topic=str(fields["topic"]),
        occurred_at=datetime.fromisoformat(fields["occurredAt"]),
        payload=fields["payload"],
    )


def from_stream(fields: dict[bytes, bytes]) -> ActivityEvent:
    """The event of one stream entry."""
    return decode(fields[STREAM_FIELD])


async def adopt_legacy_streams(
    redis: aioredis.Redis, legacy: Mapping[str, str] = LEGACY_STREAMS
) -> list[str]:
    """Streams named before hash tags (api/redis/keys.py), renamed to their new names with
    their consumer groups and pending entries, so an upgrade loses no event; the names moved.
    On a single Redis only: a cluster deployment starts with the new names."""
    moved = []
    for old, new in legacy.items():
        if await redis.exists(old) and not await redis.exists(new):
            await redis.rename(old, new)
            moved.append(old)
    return moved
