"""The activity feed on a real Redis: one pub/sub connection per process, however many
subscriptions; a subscriber that falls behind is ended, the others are not held up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from api.ops.embedded import EmbeddedRedis, Endpoints
from api.redis import activity_feed
from api.redis.activity_feed import RedisActivityFeed, SubscriberTooSlow
from api.redis.events import activity_channel
from domain.activity import ActivityEvent

NAME = "activity-feed-test"


@pytest_asyncio.fixture
async def feed_redis(endpoints: Endpoints) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(endpoints.redis_url, client_name=NAME)
    yield client
    await client.aclose()


async def _pubsub_connections(redis: aioredis.Redis) -> int:
    clients: list[dict[str, Any]] = await redis.client_list(_type="pubsub")
    return sum(1 for c in clients if c.get("name") == NAME)


async def _publish(redis: aioredis.Redis, customer_id: int, event_id: int) -> None:
    # What the outbox relay publishes (api/worker/outbox_relay.py).
    message = {
        "id": event_id,
        "customerId": customer_id,
        "topic": "interaction.recorded",
        "occurredAt": datetime.now(UTC).isoformat(),
        "payload": {"interactionId": event_id},
    }
    await redis.publish(activity_channel(customer_id), orjson.dumps(message))


async def _collect(feed: RedisActivityFeed, customer_id: int, into: list[ActivityEvent]) -> None:
    async for event in feed.subscribe(customer_id, "test"):
        into.append(event)


async def _next(events: AsyncGenerator[ActivityEvent, None]) -> ActivityEvent:
    return await anext(events)


def _one_listener(redis: aioredis.Redis, customer_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        [(_, listeners)] = await redis.pubsub_numsub(activity_channel(customer_id))
        return bool(listeners == 1)

    return check


def _ids(received: list[ActivityEvent], expected: list[int]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return [e.id for e in received] == expected

    return check


async def _until(condition: Any, what: str) -> None:
    for _ in range(400):  # 20 s: a ceiling for a loaded machine, not an expected time
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_every_subscription_of_a_process_shares_one_redis_connection(
    feed_redis: aioredis.Redis,
) -> None:
    feed = RedisActivityFeed(feed_redis)
    customers = [9_000_001 + n for n in range(10)]
    received: dict[int, list[list[ActivityEvent]]] = {c: [[], []] for c in customers}
    tasks = [
        asyncio.create_task(_collect(feed, c, into)) for c in customers for into in received[c]
    ]
    try:

        async def all_subscribed() -> bool:
            counts = await feed_redis.pubsub_numsub(*(activity_channel(c) for c in customers))
            return all(n == 1 for _, n in counts)

        await _until(all_subscribed, "not every channel was subscribed")
        assert await _pubsub_connections(feed_redis) == 1  # 20 subscriptions, one connection

        await _publish(feed_redis, customers[3], 41)
        await _publish(feed_redis, customers[3], 42)

        async def delivered() -> bool:
            return all(len(into) == 2 for into in received[customers[3]])

        await _until(delivered, "the events did not reach both subscribers")
        for into in received[customers[3]]:
            assert [e.id for e in into] == [41, 42]
            assert into[0].customer_id == customers[3]
        assert all(not into for c in customers if c != customers[3] for into in received[c])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def released() -> bool:
        counts = await feed_redis.pubsub_numsub(*(activity_channel(c) for c in customers))
        return all(n == 0 for _, n in counts) and await _pubsub_connections(feed_redis) == 0

    # Nobody listens: every channel is left and the connection given back.
    await _until(released, "the feed kept its subscriptions or its connection")
    await feed.aclose()


async def test_a_subscriber_that_falls_behind_is_ended_and_the_others_are_not_held_up(
    feed_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity_feed, "QUEUE_SIZE", 3)
    feed = RedisActivityFeed(feed_redis)
    customer = 9_000_100
    slow = feed.subscribe(customer, "test")
    first = asyncio.create_task(_next(slow))
    keeping_up: list[ActivityEvent] = []
    reader = asyncio.create_task(_collect(feed, customer, keeping_up))
    try:
        await _until(_one_listener(feed_redis, customer), "not subscribed")
        await _publish(feed_redis, customer, 1)
        assert (await first).id == 1  # both are listening; the slow one now stops reading
        for event_id in range(2, 7):
            await _publish(feed_redis, customer, event_id)

        await _until(
            _ids(keeping_up, [1, 2, 3, 4, 5, 6]), "the subscriber that keeps up missed events"
        )

        # The slow one held 2, 3, 4; 5 did not fit: the oldest made room for the end, so it
        # reads 3 and 4, then an error it can act on (subscribe again).
        seen = [(await anext(slow)).id, (await anext(slow)).id]
        assert seen == [3, 4]
        with pytest.raises(SubscriberTooSlow) as ended:
            await anext(slow)
        assert ended.value.code == "SUBSCRIBER_TOO_SLOW"
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await slow.aclose()
        await feed.aclose()


async def test_subscriptions_resume_when_redis_comes_back(tmp_path: Path) -> None:
    own_redis = EmbeddedRedis(tmp_path)
    url = own_redis.start()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    client = aioredis.from_url(url, client_name=NAME)
    feed = RedisActivityFeed(client)
    customer = 9_000_200
    received: list[ActivityEvent] = []
    task = asyncio.create_task(_collect(feed, customer, received))
    probe = aioredis.from_url(url)
    try:
        await _until(_one_listener(probe, customer), "not subscribed")
        own_redis.stop()  # Redis goes away with the subscription open…
        await probe.aclose()
        await asyncio.sleep(1.5)
        own_redis.start(port=port)  # …and comes back: the feed reconnects and resubscribes
        probe = aioredis.from_url(url)
        await _until(_one_listener(probe, customer), "not subscribed again after Redis came back")
        await _publish(probe, customer, 7)
        await _until(_ids(received, [7]), "the event after the restart did not arrive")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.aclose()
        await probe.aclose()
        await client.aclose()
        own_redis.stop()


async def test_a_failure_in_the_reader_does_not_silence_the_subscriptions(
    feed_redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = RedisActivityFeed(feed_redis)
    customer = 9_000_300
    received: list[ActivityEvent] = []
    task = asyncio.create_task(_collect(feed, customer, received))
    try:
        await _until(_one_listener(feed_redis, customer), "not subscribed")
        pubsub = feed._pubsub  # the shared connection, to make its next read fail once
        assert pubsub is not None
        real_read = pubsub.get_message
        failures: list[int] = []

        async def failing_once(**kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise ValueError("a bug in the reader")
            return await real_read(**kwargs)

        monkeypatch.setattr(pubsub, "get_message", failing_once)

        async def failed() -> bool:
            return bool(failures)

        await _until(failed, "the reader did not read again")
        await _publish(feed_redis, customer, 5)

        await _until(_ids(received, [5]), "the subscription went silent after the reader failed")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.aclose()


async def test_a_subscription_whose_cancellation_was_lost_is_ended(
    feed_redis: aioredis.Redis,
) -> None:
    # What the websocket tests met: a task marked cancelled (cancelling() > 0) whose wait was
    # never interrupted. Here the task swallows its cancellation, then waits for events.
    feed = RedisActivityFeed(feed_redis)
    started = asyncio.Event()

    async def swallows_then_subscribes() -> None:
        try:
            started.set()
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # lost: the task stays marked as cancelling
        await _collect(feed, 9_000_400, [])

    task = asyncio.create_task(swallows_then_subscribes())
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    try:
        assert done, "the subscription kept waiting after its task was cancelled"
        assert task.cancelled()
        assert not feed._owners  # nothing left waiting
    finally:
        task.cancel()
        await feed.aclose()
