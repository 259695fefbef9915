"""Live activity per customer from Redis pub/sub (published by the outbox relay)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import orjson
import redis.asyncio as aioredis

from api.outbox_relay import activity_channel
from domain.activity import ActivityEvent


class RedisActivityFeed:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def subscribe(self, customer_id: int) -> AsyncIterator[ActivityEvent]:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(activity_channel(customer_id))
        try:
            while True:
                message = await pubsub.get_message(timeout=30.0)
                if message is None or message.get("type") != "message":
                    continue
                data = orjson.loads(message["data"])
                yield ActivityEvent(
                    id=data["id"],
                    customer_id=data["customerId"],
                    topic=data["topic"],
                    occurred_at=datetime.fromisoformat(data["occurredAt"]),
                    payload=data["payload"],
                )
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
