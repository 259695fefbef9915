"""The outbox events' wire format in Redis, written once: the relay writes it
(api/worker/outbox_relay.py), the activity feed and the worker read it.

Each committed event is published on the customer's pub/sub channel (live subscribers) and
appended to one stream (the worker's consumer group), as the same JSON object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from domain.activity import ActivityEvent

STREAM = "qj:events"  # every event, for the worker
STREAM_FIELD = b"event"  # the stream entry's one field


def activity_channel(customer_id: int) -> str:
    """The pub/sub channel of one customer's events."""
    return f"qj:activity:{customer_id}"


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
