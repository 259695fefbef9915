"""Live activity per customer from Redis pub/sub (published by the outbox relay)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
import redis.asyncio as aioredis

from api.outbox_relay import activity_channel
from domain.activity import ActivityEvent

# How long one read of the pub/sub connection waits: the longest a swallowed cancellation can
# keep a subscription alive.
POLL_SECONDS = 1.0


def current_task_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class RedisActivityFeed:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def subscribe(self, customer_id: int) -> AsyncIterator[ActivityEvent]:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(activity_channel(customer_id))
        try:
            while True:
                message = await pubsub.get_message(timeout=POLL_SECONDS)
                if current_task_cancelled():
                    # redis-py can swallow a cancellation that arrives while the pub/sub
                    # connection is being read (seen when a client drops its websocket just
                    # after subscribing): the subscription would then outlive its client, hold
                    # its Redis connection and stall the server's shutdown.
                    raise asyncio.CancelledError
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
