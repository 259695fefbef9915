"""Traces (issue 21): with tracing on, one profile request is one trace holding the HTTP
server span, the GraphQL operation's span, the SQL statements and the Redis commands; a
webhook delivery carries `traceparent`; log lines carry the trace id."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources, receiver_rules
from api.db.document_crypto import DocumentCrypto
from api.db.webhooks import SqlWebhookStore
from api.http.app import create_app
from api.http.correlation import TRACED_TEXT_FORMAT, CorrelationIdFilter
from api.settings import Settings
from api.tracing import configure_tracing, shutdown_tracing
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.e2e.test_webhooks import Receiver, _dispatcher, _event, _subscribe, receiver
from tests.factories import make_customer

PROFILE = next(op.query for op in registry().values() if op.name == "call_center_profile")
__all__ = ["receiver"]  # the webhook receiver fixture, shared with test_webhooks.py


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter, batch=False)
    try:
        yield exporter
    finally:
        shutdown_tracing()


async def test_one_profile_request_is_one_trace_of_http_operation_sql_and_redis(
    spans: InMemorySpanExporter,
    settings: Settings,
    engine: AsyncEngine,
    endpoints: object,
    mint: Minter,
    seeded: int,
) -> None:
    made = await make_customer(engine, interactions=1)
    redis = aioredis.from_url(endpoints.redis_url)  # type: ignore[attr-defined]
    app = create_app(settings, Resources(engine=engine, redis=redis))
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)  # as configure_logging's: the filter, the format
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(logging.Formatter(TRACED_TEXT_FORMAT))
    access_log = logging.getLogger("quanjing.access")
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.INFO)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://quanjing.test"
        ) as client:
            answer = await client.post(
                "/graphql",
                json={"query": PROFILE, "variables": {"id": encode_id("Customer", made.id)}},
                headers={"authorization": f"Bearer {mint(Role.AGENT, 'traced-agent')}"},
            )
        assert answer.status_code == 200
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)
        await redis.aclose()
    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind.name == "SERVER"]
    trace_id = server.context.trace_id
    mine = [s for s in finished if s.context.trace_id == trace_id]
    names = [s.name for s in mine]
    assert "graphql call_center_profile" in names, names
    assert any(s.attributes and s.attributes.get("db.system") == "postgresql" for s in mine), [
        (s.name, dict(s.attributes or {})) for s in mine
    ]
    assert any(s.attributes and s.attributes.get("db.system") == "redis" for s in mine), names
    # The operation's span is the server span's child, and holds the SQL.
    [operation] = [s for s in mine if s.name == "graphql call_center_profile"]
    assert operation.parent is not None
    sql = [s for s in mine if s.attributes and s.attributes.get("db.system") == "postgresql"]
    assert all(s.parent is not None for s in sql)
    [line] = lines.getvalue().splitlines()
    assert format(trace_id, "032x") in line  # the access line names its trace
    assert "call_center_profile" in line


async def test_a_webhook_delivery_carries_traceparent(
    spans: InMemorySpanExporter,
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    crypto: DocumentCrypto,
    mint: Minter,
    receiver: Receiver,
    settings: Settings,
) -> None:
    path = f"/traced/{uuid.uuid4().hex}"
    await _subscribe(
        anonymous, mint(Role.ADMIN, "admin-traced"), receiver.url(path), ["alert.opened"]
    )
    assert await SqlWebhookStore(engine, crypto).fan_out([_event(customer_id=321)]) == 1
    async with httpx.AsyncClient() as http:
        await _dispatcher(engine, crypto, http, 3, receiver_rules(settings)).deliver_due()
    [(_, headers, _, _)] = [r for r in receiver.received if r[0] == path]
    traceparent = {k.lower(): v for k, v in headers.items()}["traceparent"]
    version, trace_id, _span_id, _flags = traceparent.split("-")
    assert version == "00"
    assert len(trace_id) == 32
    assert int(trace_id, 16) in {s.context.trace_id for s in spans.get_finished_spans()}
