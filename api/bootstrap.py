"""The composition root: where every adapter is built and wired to the ports it implements.

The web app (api/http/app.py), the worker and every command (api/cli.py) build what they need
here and nowhere else, so a new adapter, or a new port, is wired in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.background import stop_tasks
from api.db.alerts import SqlAlertReader, SqlAlertUnitOfWork
from api.db.assignment_uow import SqlAssignmentUnitOfWork
from api.db.audit_log import SqlAuditLog
from api.db.bulk_import import SqlBulkImport
from api.db.campaign_runs import SqlCampaignRuns
from api.db.campaigns import SqlCampaigns
from api.db.completeness import SqlDataQuality
from api.db.contact_uow import SqlContactUnitOfWork
from api.db.customer_changes import SqlCustomerHistory, SqlUpdateUnitOfWork
from api.db.detection import SqlDetectionFacts
from api.db.detection_rules import SqlDetectionRuleStore
from api.db.document_crypto import DocumentCrypto
from api.db.document_uow import SqlDocumentUnitOfWork
from api.db.engine import create_engine, pool_usage
from api.db.identity import SqlIdentityReview
from api.db.import_runs import SqlImportRuns
from api.db.merges import SqlMerges, auto_merge
from api.db.offers import SqlOfferSource
from api.db.ownership import SqlOwnershipReader
from api.db.privacy import SqlConsentBook, SqlPrivacyStore
from api.db.profile_reader import SqlProfileReader
from api.db.profile_snapshot import SqlProfileSnapshots
from api.db.recording_uow import SqlRecordingUnitOfWork
from api.db.reference_reader import SqlReferenceData
from api.db.reference_uow import SqlReferenceUnitOfWork
from api.db.registration_uow import SqlRegistrationUnitOfWork
from api.db.relationship_uow import SqlRelationshipUnitOfWork
from api.db.replicas import Replicas, RoutedEngine
from api.db.reports import SqlReports
from api.db.segments import SqlSegmentStore
from api.db.source_keys import SqlSourceKeys
from api.db.value_report import SqlValueReports
from api.db.value_store import SqlValueStore
from api.db.webhooks import SqlWebhookStore
from api.metrics import DB_POOL_IN_USE, DB_POOL_WAITING
from api.ops.embedded import Infrastructure
from api.outages import Outages
from api.redis.activity_feed import RedisActivityFeed
from api.redis.counter_sessions import RedisCounterSessionStore
from api.redis.guarded import CircuitBreaker, background_client, request_client
from api.redis.rate_limits import RedisTokenBuckets
from api.redis.read_fences import ReadYourWrites
from api.redis.response_cache import ResponseCache
from api.settings import Settings
from api.worker.loop import Worker, WorkerParts
from api.worker.outbox_relay import OutboxRelay
from api.worker.receivers import SystemResolver
from api.worker.webhooks import WebhookDispatcher
from domain.campaigns.runs import campaign_upkeep
from domain.detection.handling import DetectionReport, Event, detect_events, detect_scheduled
from domain.webhooks import ReceiverRules
from schema.core.context import Ports


@dataclass(slots=True)
class Resources:
    """The process-wide clients: opened by `open_resources`, or handed in by tests."""

    engine: AsyncEngine
    # The request path's client (tight timeouts, circuit breaker: api/redis/guarded.py).
    redis: aioredis.Redis
    http: httpx.AsyncClient | None = None
    # Background work's client (the worker, the outbox relay, the activity feed); None: `redis`.
    background_redis: aioredis.Redis | None = None
    outages: Outages = field(default_factory=Outages)
    # Streaming replicas for read-only operations (DATABASE_REPLICA_URLS); None: the primary.
    replicas: Replicas | None = None

    @property
    def background(self) -> aioredis.Redis:
        return self.redis if self.background_redis is None else self.background_redis


@contextlib.asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    # With DATABASE_URL and REDIS_URL set (as `quanjing serve` sets them for its workers)
    # Infrastructure starts nothing; otherwise this process owns embedded servers.
    with Infrastructure(settings) as endpoints:
        engine = create_engine(endpoints.database_url, settings)
        outages = Outages(database_probe=functools.partial(database_answers, engine))
        breaker = CircuitBreaker(
            failures=settings.redis_breaker_failures,
            open_seconds=settings.redis_breaker_open_seconds,
            outages=outages,
        )
        cluster = settings.redis_cluster
        client = request_client(
            endpoints.redis_url, settings.redis_timeout_ms, breaker, cluster=cluster
        )
        background = background_client(
            endpoints.redis_url, settings.worker_redis_timeout_ms, cluster=cluster
        )
        http = httpx.AsyncClient()
        sampling = asyncio.create_task(sample_pool(engine), name="pool-metrics")
        tasks = [sampling]
        replicas = None
        if settings.database_replica_urls:
            replicas = Replicas(
                engine,
                [create_engine(url, settings) for url in settings.database_replica_urls],
                settings.replica_max_lag_seconds,
            )
            await replicas.poll()  # the first reads know which replicas answer
            tasks.append(asyncio.create_task(replicas.watch(), name="replica-health"))
        try:
            yield Resources(
                engine=engine,
                redis=client,
                http=http,
                background_redis=background,
                outages=outages,
                replicas=replicas,
            )
        finally:
            await stop_tasks(tasks, 5.0)
            if replicas is not None:
                await replicas.dispose()
            await outages.aclose()
            await http.aclose()
            await background.aclose()
            await client.aclose()
            await engine.dispose()


async def sample_pool(engine: AsyncEngine, every: float = 1.0) -> None:
    """The pool's use, for the metrics, once a second (gauges in multiprocess mode cannot be
    read at scrape time from another process)."""
    while True:
        in_use, waiting = pool_usage(engine)
        DB_POOL_IN_USE.set(in_use)
        DB_POOL_WAITING.set(waiting)
        await asyncio.sleep(every)


async def database_answers(engine: AsyncEngine) -> None:
    """`SELECT 1` on a new connection: the outage probe and the readiness check."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def receiver_rules(settings: Settings) -> ReceiverRules:
    """Development delivers over plain HTTP too; production never. A local receiver (a test's,
    a developer's) needs its network in QUANJING_WEBHOOK_ALLOWED_NETWORKS, like any internal
    receiver."""
    return ReceiverRules(
        resolver=SystemResolver(),
        require_https=settings.is_production,
        allowed_networks=settings.webhook_allowed_networks,
    )


@dataclass(slots=True)
class Wiring:
    """What the GraphQL endpoint serves with: the ports every request's context is built
    from, and the response cache of the registered-profile lane (None when switched off)."""

    ports: Ports
    response_cache: ResponseCache | None


def wire(settings: Settings, resources: Resources, relay: OutboxRelay) -> Wiring:
    engine, redis = resources.engine, resources.redis
    # The readers of profiles, searches, lists and reports; a replica may answer them inside a
    # read-only operation, the primary otherwise (api/db/replicas.py).
    replicas = resources.replicas
    reads = engine if replicas is None else RoutedEngine(replicas)
    crypto = DocumentCrypto.from_settings(settings)
    reader = SqlProfileReader(reads, crypto)
    # One audit log: its group commit gathers the records of every concurrent request.
    audit_log = SqlAuditLog(engine)
    cache = (
        ResponseCache(redis, audit_log, settings.response_cache_ttl_seconds)
        if settings.response_cache_ttl_seconds > 0
        else None
    )
    ports = Ports(
        reader=reader,
        snapshots=SqlProfileSnapshots(reads, crypto),
        bulk_import=SqlBulkImport(engine, crypto, on_commit=relay.wake),
        import_runs=SqlImportRuns(engine),
        identity=SqlIdentityReview(reads),
        merges=SqlMerges(engine, on_commit=relay.wake),
        recording=lambda: SqlRecordingUnitOfWork(engine, on_commit=relay.wake),
        relationships=lambda: SqlRelationshipUnitOfWork(engine, on_commit=relay.wake),
        detection_rules=SqlDetectionRuleStore(engine),
        alerts=SqlAlertReader(reads),
        alert_changes=lambda: SqlAlertUnitOfWork(engine, on_commit=relay.wake),
        webhooks=SqlWebhookStore(engine, crypto),
        webhook_receivers=receiver_rules(settings),
        source_keys=SqlSourceKeys(engine),
        registrations=lambda: SqlRegistrationUnitOfWork(engine, crypto, on_commit=relay.wake),
        contacts=lambda: SqlContactUnitOfWork(engine, on_commit=relay.wake),
        updates=lambda: SqlUpdateUnitOfWork(engine, crypto, on_commit=relay.wake),
        corporate_contacts=lambda: SqlUpdateUnitOfWork(engine, crypto, on_commit=relay.wake),
        history=SqlCustomerHistory(reads),
        data_quality=SqlDataQuality(reads),
        reference=SqlReferenceData(reads),
        reference_changes=lambda: SqlReferenceUnitOfWork(engine, on_commit=relay.wake),
        document_changes=lambda: SqlDocumentUnitOfWork(engine, crypto, on_commit=relay.wake),
        activity=RedisActivityFeed(resources.background, settings.max_subscriptions_per_principal),
        values=SqlValueStore(engine),
        ownership=SqlOwnershipReader(reads),
        value_reports=SqlValueReports(reads),
        reports=SqlReports(reads),
        campaigns=SqlCampaigns(reads),
        campaign_runs=SqlCampaignRuns(engine, on_commit=relay.wake),
        segments=SqlSegmentStore(reads),
        offers=SqlOfferSource(engine),
        assignments=lambda: SqlAssignmentUnitOfWork(engine, on_commit=relay.wake),
        min_rm_grade=settings.high_value_min_rm_grade,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        counter_sessions=RedisCounterSessionStore(
            redis,
            idle_seconds=settings.counter_session_idle_seconds,
            absolute_seconds=settings.counter_session_absolute_seconds,
            max_failures=settings.counter_max_failures,
            lockout_seconds=settings.counter_lockout_seconds,
        ),
        audit_log=audit_log,
        consent_book=SqlConsentBook(engine),
        privacy=SqlPrivacyStore(engine, None if cache is None else cache.forget),
        rate_limiter=RedisTokenBuckets(
            redis, settings.rate_capacity, settings.rate_refill_per_second
        ),
        outages=resources.outages.unavailable,
        consistency=None if replicas is None else ReadYourWrites(replicas.primary_lsn, redis),
    )
    return Wiring(ports=ports, response_cache=cache)


class Detection:
    """What detection needs, wired to PostgreSQL: the worker's handler and `quanjing detect`."""

    def __init__(self, engine: AsyncEngine, relay: OutboxRelay | None = None) -> None:
        wake = relay.wake if relay is not None else None
        self.rules = SqlDetectionRuleStore(engine)
        self.facts = SqlDetectionFacts(engine)
        self.alerts = lambda: SqlAlertUnitOfWork(engine, on_commit=wake)
        self.relationships = lambda: SqlRelationshipUnitOfWork(engine, on_commit=wake)

    async def events(self, events: list[Event]) -> DetectionReport:
        return await detect_events(
            events, self.rules, self.facts, self.alerts, self.relationships, datetime.now(UTC)
        )

    async def scheduled(self, as_of: date, now: datetime | None = None) -> DetectionReport:
        return await detect_scheduled(
            as_of, self.rules, self.facts, self.alerts, self.relationships, now or datetime.now(UTC)
        )


def build_worker(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    **options: Any,
) -> Worker:
    """The worker and everything it drives; `options` are Worker's (group, consumer, batch…)."""
    relay = OutboxRelay(engine, redis)
    background = engine.execution_options(component="worker")
    webhooks = SqlWebhookStore(engine, DocumentCrypto.from_settings(settings))
    parts = WorkerParts(
        relay=relay,
        detection=Detection(background, relay),
        webhooks=webhooks,
        values=SqlValueStore(background),
        auto_merge=None
        if not settings.auto_merge.thresholds
        else functools.partial(
            auto_merge, background, SqlMerges(background, relay.wake), settings.auto_merge
        ),
        campaign_upkeep=functools.partial(
            campaign_upkeep,
            SqlCampaigns(background),
            SqlCampaignRuns(background, on_commit=relay.wake),
        ),
        dispatcher=WebhookDispatcher(
            webhooks,
            http,
            rules=receiver_rules(settings),
            max_attempts=settings.webhook_max_attempts,
            backoff=timedelta(seconds=settings.webhook_backoff_seconds),
            timeout_seconds=settings.webhook_timeout_seconds,
        ),
    )
    return Worker(settings, redis, parts, **options)
