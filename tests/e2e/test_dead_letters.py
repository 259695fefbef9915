"""Poison events (issue 22, defect 7): an event the worker fails on for a reason of its own
holds up only itself, and after QUANJING_WORKER_MAX_DELIVERIES deliveries it leaves the stream
for the dead letters, where an operator lists, requeues or drops it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.redis.dead_letters import dead_letters, drop, requeue
from api.redis.events import STREAM, adopt_legacy_streams, encode
from api.redis.keys import DEAD_STREAM
from api.settings import Settings
from api.worker.loop import Worker
from domain.detection.handling import DetectionReport, Event
from tests.e2e.test_detection import make_worker

POISON = 987_654_321  # a customer id whose events the detector below cannot handle


class PoisonedDetection:
    """Handles every event but the poison customer's, which it fails on every time."""

    def __init__(self, poison: int | None = POISON) -> None:
        self.poison = poison
        self.handled: list[int] = []

    async def events(self, events: list[Event]) -> DetectionReport:
        if any(event.customer_id == self.poison for event in events):
            raise ValueError("a rule cannot read this event")
        self.handled += [event.customer_id for event in events]
        return DetectionReport(events=len(events))

    async def scheduled(self, as_of: date, now: datetime | None = None) -> DetectionReport:
        return DetectionReport()


async def _publish(redis: aioredis.Redis, customer_id: int) -> bytes:
    data = encode(customer_id, customer_id, "test.noop", datetime.now(UTC), {})
    entry = await redis.xadd(STREAM, {b"event": data})
    return entry if isinstance(entry, bytes) else entry.encode()


async def _worker(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis,
    max_deliveries: int,
    detection: PoisonedDetection,
) -> Worker:
    """A worker of its own group whose detection is `detection`, claiming a failed message
    again at once (no idle wait). Its webhook client is closed: these tests deliver none."""
    async with httpx.AsyncClient() as http:
        worker = make_worker(
            replace(settings, worker_max_deliveries=max_deliveries),
            engine,
            redis,
            http,
            f"dead-{uuid.uuid4().hex[:8]}",
            claim_idle_ms=0,
        )
    worker.detection = detection
    await worker.ensure_group()
    return worker


async def _pending(worker: Worker) -> int:
    groups: Any = await worker.redis.xinfo_groups(STREAM)
    (mine,) = [g for g in groups if g["name"] == worker.group.encode()]
    return int(mine["pending"])


async def test_a_poison_event_goes_to_the_dead_letters_and_the_rest_go_on(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis
) -> None:
    detection = PoisonedDetection()
    worker = await _worker(settings, engine, redis_client, 3, detection)
    good_before = 100_000_000 + int(uuid.uuid4().int % 1_000_000)
    await _publish(redis_client, good_before)
    poison = await _publish(redis_client, POISON)
    await _publish(redis_client, good_before + 1)
    await redis_client.delete(DEAD_STREAM)

    await worker.process_once()  # the batch fails; one at a time, the good ones pass
    assert detection.handled == [good_before, good_before + 1]
    assert await _pending(worker) == 1
    assert await redis_client.xlen(DEAD_STREAM) == 0
    await worker.process_once()  # delivery 2 of 3: still retried
    assert await redis_client.xlen(DEAD_STREAM) == 0
    await worker.process_once()  # delivery 3 of 3: dead
    assert await _pending(worker) == 0
    [letter] = await dead_letters(redis_client)
    assert letter.original_id == poison.decode()
    assert letter.error == "ValueError"
    assert letter.deliveries == 3
    assert letter.group == worker.group
    await worker.process_once()  # nothing left to retry
    assert detection.handled == [good_before, good_before + 1]

    # Requeued (after a fix), it is a new stream entry the group handles again.
    assert await requeue(redis_client, [letter.id]) == 1
    assert await redis_client.xlen(DEAD_STREAM) == 0
    worker.detection = fixed = PoisonedDetection(poison=None)
    await worker.process_once()
    assert fixed.handled == [POISON]
    assert await drop(redis_client, ["0-1"]) == 0


async def test_an_outage_is_retried_as_a_batch_without_counting_towards_the_dead_letters(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis
) -> None:
    class Down:
        async def events(self, events: list[Event]) -> DetectionReport:
            raise ConnectionRefusedError(111, "Connect call failed")

    worker = await _worker(settings, engine, redis_client, 1, Down())  # type: ignore[arg-type]
    await redis_client.delete(DEAD_STREAM)
    await _publish(redis_client, 1)
    for _ in range(3):
        try:
            await worker.process_once()
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("an outage must reach the loop, which retries it")
    assert await redis_client.xlen(DEAD_STREAM) == 0
    assert await _pending(worker) == 1


async def test_a_stream_named_before_hash_tags_is_adopted_with_its_group(
    redis_client: aioredis.Redis,
) -> None:
    # As an upgraded deployment finds it: entries, a consumer group, one entry pending.
    old, new = "qj:test-legacy-events", "qj:{test-legacy-events}"
    await redis_client.delete(old, new)
    await redis_client.xadd(old, {b"event": b"1"})
    await redis_client.xgroup_create(old, "detector", id="0")
    await redis_client.xreadgroup("detector", "c1", {old: ">"}, count=1)
    await redis_client.xadd(old, {b"event": b"2"})
    assert await adopt_legacy_streams(redis_client, {old: new}) == [old]
    assert not await redis_client.exists(old)
    assert await redis_client.xlen(new) == 2
    pending: Any = await redis_client.xpending(new, "detector")
    assert pending["pending"] == 1  # the unacknowledged entry is still owed to its consumer
    # Once adopted, nothing moves again (a later worker start), and the new name is kept.
    await redis_client.xadd(old, {b"event": b"3"})
    assert await adopt_legacy_streams(redis_client, {old: new}) == []
    await redis_client.delete(old, new)
