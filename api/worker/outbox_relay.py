"""Relays outbox events to Redis after commit: pub/sub for live subscribers, and a stream
(`qj:events`) for workers. At-least-once: a crash between publish and marking republishes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from sqlalchemy import BigInteger, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from api.background import stop_tasks
from api.db.tables import IdempotencyKeyRow, OutboxRow
from api.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS
from api.outages import dependency_of
from api.redis import events

log = logging.getLogger(__name__)

BACKGROUND_COMPONENT = "outbox-relay"
STREAM_MAXLEN = 1_000_000
OBSERVE_SECONDS = 10.0  # how often the backlog is counted for the metrics


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: aioredis.Redis,
        *,
        batch: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        # Tagged, so per-request statement counts (tests, metrics) can tell the relay apart.
        self.engine = engine.execution_options(component=BACKGROUND_COMPONENT)
        self.redis = redis
        self._cluster = isinstance(redis, RedisCluster)
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_housekeeping = 0.0
        self._last_observed = 0.0

    def wake(self) -> None:
        """Called after a commit that emitted events: publish now, not at the next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; raises if Redis fails (the rows stay unpublished)."""
        o = OutboxRow.__table__.c
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(o.id, o.customer_id, o.topic, o.payload, o.created_at)
                    .where(o.published_at.is_(None))
                    .order_by(o.id)
                    .limit(self.batch)
                    # Several workers relay at once without publishing a row twice.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self.send(rows)
            await conn.execute(
                update(OutboxRow)
                .where(o.id == func.any(literal([r.id for r in rows], ARRAY(BigInteger))))
                .values(published_at=datetime.now(UTC))
            )
        return len(rows)

    async def send(self, rows: Sequence[Any]) -> None:
        """Put outbox rows (id, customer_id, topic, payload, created_at) on the stream and
        their customers' activity channels."""
        pipe = self.redis.pipeline(transaction=False)
        announced: list[tuple[str, bytes]] = []
        for row in rows:
            message = events.encode(row.id, row.customer_id, row.topic, row.created_at, row.payload)
            channel = events.activity_channel(row.customer_id)
            if self._cluster:
                announced.append((channel, message))
            else:
                pipe.publish(channel, message)
            pipe.xadd(
                events.STREAM,
                {events.STREAM_FIELD: message},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        await pipe.execute()
        # A cluster's pipeline refuses PUBLISH (no key to route it by): one call each, in
        # order, after the stream has them; the cluster broadcasts each to every node.
        for channel, message in announced:
            await self.redis.publish(channel, message)

    async def observe_backlog(self) -> None:
        """The events waiting and the oldest one's age, for the metrics (a count over the
        partial index of unpublished rows: cheap while the relay keeps up)."""
        o = OutboxRow.__table__.c
        async with self.engine.connect() as conn:
            waiting, oldest = (
                await conn.execute(
                    select(func.count(), func.min(o.created_at)).where(o.published_at.is_(None))
                )
            ).one()
        OUTBOX_BACKLOG.set(waiting)
        OUTBOX_OLDEST_SECONDS.set(
            0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        )

    async def housekeeping(self) -> None:
        """Forget expired idempotency keys and announced events older than a week."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at < func.now())
            )
            await conn.execute(
                delete(OutboxRow).where(
                    OutboxRow.published_at < datetime.now(UTC) - timedelta(days=7)
                )
            )

    async def run(self) -> None:
        backoff = 0.2
        while True:
            # Cleared before publishing, not after: a commit that wakes the relay while it
            # publishes must find it awake for another pass (cleared after, that wake was
            # lost and the commit's events waited for the next poll).
            self._wake.clear()
            try:
                while await self.publish_pending() == self.batch:
                    pass  # a backlog: keep going without waiting
                backoff = 0.2
                loop = asyncio.get_running_loop()
                if loop.time() - self._last_observed > OBSERVE_SECONDS:
                    self._last_observed = loop.time()
                    await self.observe_backlog()
                if loop.time() - self._last_housekeeping > 300:
                    self._last_housekeeping = loop.time()
                    await self.housekeeping()
            except Exception as exc:
                # PostgreSQL or Redis is down: events wait in the outbox; retry with growing
                # pauses, naming the one that failed (asyncpg's refusal is an OSError too).
                dependency = dependency_of(exc)
                if dependency is None:
                    log.exception("outbox relay failed; retrying")
                    await asyncio.sleep(1.0)
                    continue
                log.warning("outbox relay: %s unavailable, retrying in %.1f s", dependency, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self, within_seconds: float = 10.0) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await stop_tasks([task], within_seconds)
