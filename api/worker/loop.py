"""`quanjing worker`: event detection, webhook deliveries, time-based rules and the outbox relay.

Events reach the detector through the Redis Stream `qj:events` and the consumer group
`detector`: at-least-once. A batch is acknowledged only after its alerts and deliveries are
committed; a worker that dies mid-batch leaves its messages pending, and any worker claims
them (XAUTOCLAIM) once they have been idle for QUANJING_WORKER_CLAIM_IDLE_SECONDS. The
handlers are idempotent (alert dedupe keys, one delivery per subscription and event), so a
redelivered message changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from api.background import stop_tasks
from api.db.webhooks import SqlWebhookStore
from api.metrics import STREAM_LAG, STREAM_PENDING, WORKER_BATCH_EVENTS, WORKER_BATCHES
from api.outages import REDIS, dependency_of
from api.redis.dead_letters import dead_letter
from api.redis.events import STREAM, adopt_legacy_streams, from_stream
from api.redis.keys import daily_pass
from api.settings import Settings
from api.worker.outbox_relay import OutboxRelay
from api.worker.webhooks import WebhookDispatcher
from domain.campaigns.runs import Upkeep
from domain.detection.handling import DetectionReport, Event
from domain.value.contribution import ValueStore
from domain.value.scoring import rescore_events

log = logging.getLogger(__name__)

GROUP = "detector"


class Detector(Protocol):
    """Detection, wired (api/bootstrap.Detection)."""

    async def events(self, events: list[Event]) -> DetectionReport: ...

    async def scheduled(self, as_of: date, now: datetime | None = None) -> DetectionReport: ...


@dataclass(frozen=True, slots=True)
class WorkerParts:
    """What the worker drives, built by the composition root (api/bootstrap.build_worker)."""

    relay: OutboxRelay
    detection: Detector
    webhooks: SqlWebhookStore
    values: ValueStore
    dispatcher: WebhookDispatcher
    # Identity resolution's auto-merge pass (None: QUANJING_AUTO_MERGE is not set).
    auto_merge: Callable[[], Awaitable[list[int]]] | None = None
    # Campaigns' daily pass: attribution, and completion once a window closes.
    campaign_upkeep: Callable[[datetime], Awaitable[Upkeep]] | None = None


class Worker:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        parts: WorkerParts,
        *,
        consumer: str | None = None,
        group: str = GROUP,
        start_id: str = "0",
        batch: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int | None = None,
        schedule: bool = True,
    ) -> None:
        self.redis = redis
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.group = group
        # Where a new group starts: "0" (the stream's start: a group created after events
        # arrived still sees them) or "$" (only what arrives from now on).
        self.start_id = start_id
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = (
            settings.worker_claim_idle_seconds * 1000 if claim_idle_ms is None else claim_idle_ms
        )
        self.max_deliveries = settings.worker_max_deliveries
        self.schedule = schedule
        self.stop_seconds = float(settings.shutdown_timeout_seconds)
        self.relay = parts.relay
        self.detection = parts.detection
        self.webhooks = parts.webhooks
        self.values = parts.values
        self.dispatcher = parts.dispatcher
        self.auto_merge = parts.auto_merge
        self.campaign_upkeep = parts.campaign_upkeep
        self._tasks: list[asyncio.Task[None]] = []
        self._group_ready = False

    async def ensure_group(self) -> None:
        await adopt_legacy_streams(self.redis)
        try:
            await self.redis.xgroup_create(STREAM, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Messages abandoned by a dead consumer first, then new ones."""
        claimed: Any = await self.redis.xautoclaim(
            STREAM, self.group, self.consumer, self.claim_idle_ms, start_id="0-0", count=self.batch
        )
        messages = [m for m in claimed[1] if m[1]]  # a trimmed message comes back empty
        if messages:
            return messages
        answer: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {STREAM: ">"}, count=self.batch, block=self.block_ms
        )
        return [m for _, batch in answer for m in batch] if answer else []

    async def handle(self, messages: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> DetectionReport:
        """Handle and acknowledge a batch. A batch that fails for a reason of its own (not an
        outage) is handled again one message at a time, so one poison event holds up only
        itself; a message that has failed on QUANJING_WORKER_MAX_DELIVERIES deliveries goes to
        the dead letters (`quanjing dead-letters`)."""
        if messages:
            WORKER_BATCH_EVENTS.observe(len(messages))
        try:
            report = await self._handle(messages)
        except Exception as exc:
            WORKER_BATCHES.labels("failed").inc()
            if dependency_of(exc) is not None or not messages:
                raise  # everything fails while PostgreSQL or Redis is away: retried as a batch
            if len(messages) == 1:
                await self._failed(messages[0], exc)
                return DetectionReport()
        else:
            if messages:
                WORKER_BATCHES.labels("handled").inc()
            return report
        report = DetectionReport()
        for message in messages:
            try:
                report.add(await self._handle([message]))
            except Exception as exc:
                if dependency_of(exc) is not None:
                    raise
                await self._failed(message, exc)
        return report

    async def _failed(self, message: tuple[bytes, dict[bytes, bytes]], error: Exception) -> None:
        message_id, fields = message
        pending: Any = await self.redis.xpending_range(
            STREAM, self.group, min=message_id, max=message_id, count=1
        )
        deliveries = int(pending[0]["times_delivered"]) if pending else 1
        if deliveries < self.max_deliveries:
            log.warning(
                "event %s failed on delivery %d of %d (%s); it is retried after %d s",
                message_id.decode(),
                deliveries,
                self.max_deliveries,
                type(error).__name__,
                self.claim_idle_ms // 1000,
                exc_info=error,
            )
            return
        await dead_letter(self.redis, self.group, message_id, fields, error, deliveries)
        await self.redis.xack(STREAM, self.group, message_id)
        log.error(
            "event %s failed on all %d deliveries (%s); moved to the dead letters",
            message_id.decode(),
            deliveries,
            type(error).__name__,
            exc_info=error,
        )

    async def _handle(
        self, messages: Sequence[tuple[bytes, dict[bytes, bytes]]]
    ) -> DetectionReport:
        events = []
        for message_id, fields in messages:
            try:
                events.append(from_stream(fields))
            except (KeyError, ValueError, TypeError):
                # Not ours to fix by retrying: log it and let it go.
                log.error("dropping malformed stream message %r", message_id)
        report = await self.detection.events(events)
        await rescore_events(events, self.values)
        await self.webhooks.fan_out(events)
        if messages:
            await self.redis.xack(STREAM, self.group, *[m for m, _ in messages])
        return report

    async def process_once(self) -> DetectionReport:
        """Read, handle and acknowledge one batch (what the loop does; tests call it)."""
        return await self.handle(await self.read())

    async def run_scheduled_if_due(self, today: date) -> DetectionReport | None:
        key = daily_pass("detect", today)  # one scheduled run per day across all workers
        if not await self.redis.set(key, self.consumer, nx=True, ex=3 * 24 * 3600):
            return None
        try:
            report = await self.detection.scheduled(today)
        except BaseException:
            await self.redis.delete(key)  # let a later tick (or another worker) try again
            raise
        log.info("scheduled detection for %s: %d alerts", today, len(report.alerts))
        return report

    async def run_campaign_upkeep_if_due(self, now: datetime) -> Upkeep | None:
        """Once a day across all workers, as scheduled detection."""
        if self.campaign_upkeep is None:
            return None
        key = daily_pass("campaigns", now.date())  # one pass per day across all workers
        if not await self.redis.set(key, self.consumer, nx=True, ex=3 * 24 * 3600):
            return None
        try:
            done = await self.campaign_upkeep(now)
        except BaseException:
            await self.redis.delete(key)
            raise
        log.info("campaigns: %d attributed, %d completed", done.attributed, done.completed)
        return done

    async def _loop(self, name: str, step: Any, pause: float) -> None:
        backoff = 0.2
        while True:
            try:
                busy = await step()
                backoff = 0.2
            except Exception as exc:
                # An error reply (NOGROUP after Redis lost its data) is retried like an outage.
                dependency = dependency_of(exc) or (REDIS if isinstance(exc, RedisError) else None)
                if dependency is None:
                    log.exception("%s failed; retrying", name)
                    await asyncio.sleep(1.0)
                    continue
                log.warning(
                    "%s: %s unavailable (%s); retrying in %.1f s",
                    name,
                    dependency,
                    type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not busy:
                await asyncio.sleep(pause)

    async def _consume(self) -> bool:
        if not self._group_ready:
            await self.ensure_group()
            self._group_ready = True
        try:
            report = await self.process_once()
        except ResponseError:
            self._group_ready = False  # e.g. NOGROUP after Redis lost its data: recreate
            raise
        return report.events > 0

    async def _deliver(self) -> bool:
        return await self.dispatcher.deliver_due() > 0

    async def _tick(self) -> bool:
        if self.schedule:
            await self.run_scheduled_if_due(datetime.now(UTC).date())
            await self.run_campaign_upkeep_if_due(datetime.now(UTC))
        if self.auto_merge is not None:
            merged = await self.auto_merge()
            if merged:
                log.info("auto-merged %d candidate pairs", len(merged))
        return False

    async def observe_stream(self) -> bool:
        """The consumer groups' lag and pending counts, for the metrics."""
        try:
            groups: Any = await self.redis.xinfo_groups(STREAM)
        except ResponseError:
            return False  # no stream yet: nothing was ever published
        for group in groups:
            name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            STREAM_PENDING.labels(name).set(int(group.get("pending") or 0))
            STREAM_LAG.labels(name).set(int(group.get("lag") or 0))
        return False

    def start(self) -> None:
        self.relay.start()
        self._tasks = [
            asyncio.create_task(self._loop("stream", self.observe_stream, 10.0), name="stream"),
            asyncio.create_task(self._loop("detector", self._consume, 0.0), name="detector"),
            asyncio.create_task(self._loop("webhooks", self._deliver, 0.5), name="webhooks"),
            asyncio.create_task(self._loop("schedule", self._tick, 60.0), name="schedule"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks, self.stop_seconds)
        await self.relay.stop(self.stop_seconds)
