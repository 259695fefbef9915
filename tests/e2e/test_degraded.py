"""Degrade, don't fail: what clients get while PostgreSQL or Redis is away (docs/operations.md,
"Failure modes"). Each test breaks a dependency behind a proxy (tests/proxy.py) or points the
service at a port nobody answers, and checks the answer's status, code and timing, and the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources, database_answers
from api.db.engine import create_engine
from api.http.app import create_app
from api.ops.embedded import Endpoints
from api.outages import Outages
from api.redis.guarded import CircuitBreaker, request_client
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import make_customer
from tests.proxy import Proxy, proxy_to, tcp, unix
from tests.websocket import served

PROFILE = next(op.query for op in registry().values() if op.name == "call_center_profile")
DOCS = """query ($id: ID!) { customer(id: $id) { ... on Customer { documents { number } } } }"""
OPEN = """mutation ($input: OpenCounterSessionInput!) { openCounterSession(input: $input) {
  __typename ... on Error { code } } }"""
VISIT = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on Error { code } } }"""


def _socket_path(database_url: str) -> str:
    query = parse_qs(urlparse(database_url).query)
    return f"{query['host'][0]}/.s.PGSQL.{query['port'][0]}"


@pytest.fixture
async def pg_proxy(endpoints: Endpoints) -> AsyncIterator[Proxy]:
    async with proxy_to(unix(_socket_path(endpoints.database_url))) as proxy:
        yield proxy


@pytest.fixture
async def redis_proxy(endpoints: Endpoints) -> AsyncIterator[Proxy]:
    parsed = urlparse(endpoints.redis_url)
    async with proxy_to(tcp(parsed.hostname or "127.0.0.1", parsed.port or 6379)) as proxy:
        yield proxy


def _proxied_database(database_url: str, port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/quanjing"


class Service:
    """The app over ASGITransport with its own engine and Redis client, as a process has."""

    def __init__(self, app: Starlette, resources: Resources, settings: Settings) -> None:
        self.app = app
        self.resources = resources
        self.settings = settings
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://quanjing.test"
        )

    async def post(
        self, query: str, variables: dict[str, Any], token: str, **headers: str
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}", **headers},
        )


@pytest.fixture
async def make_service(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int
) -> AsyncIterator[Any]:
    opened: list[Service] = []
    closers: list[Any] = []

    async def build(
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        **changes: Any,
    ) -> Service:
        tuned = replace(settings, **changes)
        service_engine = engine
        if database_url is not None:
            service_engine = create_engine(database_url, tuned)
            closers.append(service_engine.dispose)
        outages = Outages(database_probe=lambda: database_answers(service_engine))
        closers.append(outages.aclose)
        client = redis_client
        if redis_url is not None:
            breaker = CircuitBreaker(
                failures=tuned.redis_breaker_failures,
                open_seconds=tuned.redis_breaker_open_seconds,
                outages=outages,
            )
            client = request_client(redis_url, tuned.redis_timeout_ms, breaker)
            closers.append(client.aclose)
        resources = Resources(engine=service_engine, redis=client, outages=outages)
        service = Service(create_app(tuned, resources), resources, tuned)
        opened.append(service)
        return service

    yield build
    for service in opened:
        await service.client.aclose()
    for close in reversed(closers):
        await close()


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    errors: list[dict[str, Any]] = body.get("errors") or []
    return errors


async def test_a_teller_is_served_masked_while_redis_is_away(
    make_service: Any, engine: AsyncEngine, mint: Minter, redis_proxy: Proxy
) -> None:
    """Defect 1: the counter session cannot be checked. Reads answer as for a teller without
    a session (masked, JSON, with the correlation id); what needs the session is refused with
    503 COUNTER_SESSION_UNAVAILABLE and Retry-After. Down (refused) and frozen alike."""
    made = await make_customer(engine)
    service = await make_service(redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0")
    teller = mint(Role.TELLER, "teller-degraded")
    variables = {"id": encode_id("Customer", made.id)}
    for fault in (redis_proxy.refuse, redis_proxy.freeze):
        fault()
        for query in (PROFILE, DOCS):
            started = time.monotonic()
            response = await service.post(query, variables, teller)
            assert time.monotonic() - started < 1.0
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert response.headers["x-request-id"]
            assert not _errors(response), response.text
        documents = response.json()["data"]["customer"]["documents"]
        assert documents
        assert all(d["number"] != made.resident_id for d in documents)
        opened = await service.post(
            OPEN,
            {
                "input": {
                    "customerId": variables["id"],
                    "documentType": "RESIDENT_ID",
                    "documentNumber": made.resident_id,
                }
            },
            teller,
        )
        assert opened.status_code == 503, opened.text
        assert int(opened.headers["retry-after"]) >= 1
        assert [e["extensions"]["code"] for e in _errors(opened)] == ["COUNTER_SESSION_UNAVAILABLE"]
        visit = await service.post(
            VISIT,
            {
                "input": {
                    "customerId": variables["id"],
                    "kind": "INQUIRY",
                    "channel": "COUNTER",
                    "occurredAt": "2026-12-01T10:00:00+08:00",
                    "summary": "balance question at the counter",
                    "idempotencyKey": f"degraded-{made.id}-{fault.__name__}",
                }
            },
            teller,
        )
        assert visit.status_code == 503, visit.text
        assert _errors(visit)[0]["extensions"]["code"] == "COUNTER_SESSION_UNAVAILABLE"
        redis_proxy.refuse(False)
        redis_proxy.thaw()


async def test_a_database_outage_is_503_naming_it_and_logged_once_each_way(
    make_service: Any,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    pg_proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Defect 2: not HTTP 200 with INTERNAL_SERVER_ERROR and a traceback per request, but 503
    SERVICE_UNAVAILABLE with `dependency: database` and Retry-After, one WARNING when the
    database goes and one when it is back."""
    made = await make_customer(engine)
    service = await make_service(
        database_url=_proxied_database(endpoints.database_url, pg_proxy.port)
    )
    agent = mint(Role.AGENT, "agent-degraded")
    variables = {"id": encode_id("Customer", made.id)}
    assert (await service.post(DOCS, variables, agent)).status_code == 200
    caplog.set_level(logging.INFO)
    pg_proxy.refuse()
    for query in (PROFILE, DOCS) * 10:
        response = await service.post(query, variables, agent)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        [error] = _errors(response)
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["dependency"] == "database"
        assert "correlationId" in error["extensions"]
    pg_proxy.refuse(False)
    for _ in range(50):  # the probe looks once a second
        if not service.resources.outages.is_down("database"):
            break
        await asyncio.sleep(0.1)
    assert (await service.post(DOCS, variables, agent)).status_code == 200
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [
        r.getMessage().split(" (")[0].split(";")[0] for r in lines if "database" in r.getMessage()
    ] == [
        "database unavailable",
        "database available again after " + lines[-1].getMessage().split("after ")[1],
    ], [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_hung_database_is_cut_at_the_request_limit_and_readyz_answers_in_a_second(
    make_service: Any,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    pg_proxy: Proxy,
) -> None:
    """Defect 4: a request on a hung PostgreSQL ends at the request limit, not 2 s after it
    (SQLAlchemy's cleanup of the cancelled connection is not waited for), and /readyz answers
    503 within about a second."""
    made = await make_customer(engine)
    service = await make_service(
        database_url=_proxied_database(endpoints.database_url, pg_proxy.port),
        request_timeout_seconds=2,
    )
    agent = mint(Role.AGENT, "agent-hung")
    variables = {"id": encode_id("Customer", made.id)}
    assert (await service.post(DOCS, variables, agent)).status_code == 200
    pg_proxy.freeze()
    # Behind a real uvicorn, as a client sees it (an in-process transport waits for the
    # application to return, which the cut-off request does only after unwinding), on one
    # keep-alive connection: the next request is not held up behind the unwinding one either.
    async with (
        served(service.app, service.settings) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        headers = {"authorization": f"Bearer {agent}"}
        started = time.monotonic()
        response = await http.post(
            "/graphql", json={"query": DOCS, "variables": variables}, headers=headers
        )
        took = time.monotonic() - started
        assert response.status_code == 504
        assert _errors(response)[0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert 1.9 < took < 2.5, took
        started = time.monotonic()
        assert (await http.get("/healthz")).status_code == 200
        assert time.monotonic() - started < 0.5
    started = time.monotonic()
    ready = await service.client.get("/readyz")
    took = time.monotonic() - started
    assert ready.status_code == 503
    assert ready.json()["database"] == "timeout"
    assert took < 1.5, took
    pg_proxy.thaw()
    pg_proxy.cut()


async def test_a_subscription_over_http_is_refused_with_a_code(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 5: 400 with SUBSCRIPTION_NEEDS_WEBSOCKET, not INTERNAL_SERVER_ERROR and a
    traceback in the log."""
    response = await client.post(
        "/graphql",
        json={"query": 'subscription { customerActivity(customerId: "x") { topic } }'},
    )
    assert response.status_code == 400, response.text
    assert _errors(response)[0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET"
    assert response.headers["content-type"].startswith("application/json")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
