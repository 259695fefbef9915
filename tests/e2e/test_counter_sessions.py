"""Counter sessions: verified once, bounded in time, gone from Redis when they expire."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources
from api.http.app import create_app
from api.redis.keys import counter_session
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql_data

OPEN = """mutation ($input: OpenCounterSessionInput!) { openCounterSession(input: $input) {
  __typename ... on Error { code } ... on CounterSession { idleExpiresAt expiresAt } } }"""
CLOSE = """mutation ($id: ID!) { closeCounterSession(customerId: $id) {
  __typename ... on CloseCounterSessionPayload { closed } } }"""
DOCS = """query ($id: ID!) { customer(id: $id) { ... on Customer { documents { number } } } }"""


@pytest.fixture
def short_sessions(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int
) -> Starlette:
    quick = replace(settings, counter_session_idle_seconds=2, counter_session_absolute_seconds=5)
    return create_app(quick, Resources(engine=engine, redis=redis_client))


async def _number(client: httpx.AsyncClient, made: Made, token: str) -> str:
    data = await gql_data(client, DOCS, {"id": encode_id("Customer", made.id)}, token=token)
    number: str = data["customer"]["documents"][0]["number"]
    return number


def _input(made: Made, number: str | None = None) -> dict[str, object]:
    return {
        "input": {
            "customerId": encode_id("Customer", made.id),
            "documentType": "RESIDENT_ID",
            "documentNumber": number or made.resident_id,
        }
    }


async def test_a_teller_sees_clear_data_only_inside_a_verified_session(
    short_sessions: Starlette,
    engine: AsyncEngine,
    mint: Minter,
    redis_client: aioredis.Redis,
) -> None:
    made = await make_customer(engine)
    teller = mint(Role.TELLER, "teller-1")
    transport = httpx.ASGITransport(app=short_sessions)
    async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as client:
        assert await _number(client, made, teller) != made.resident_id  # masked
        opened = await gql_data(client, OPEN, _input(made), token=teller)
        assert opened["openCounterSession"]["__typename"] == "CounterSession"
        assert await _number(client, made, teller) == made.resident_id
        # Another teller has no session with this customer.
        assert await _number(client, made, mint(Role.TELLER, "teller-2")) != made.resident_id
        # Used every half second, the session outlives its 2 s idle timeout…
        for _ in range(7):
            await asyncio.sleep(0.5)
            assert await _number(client, made, teller) == made.resident_id
        # …but never its 5 s absolute limit: then it is gone from Redis.
        await asyncio.sleep(2.0)
        assert await _number(client, made, teller) != made.resident_id
        assert await redis_client.exists(counter_session("teller-1", made.id)) == 0


async def test_an_idle_session_expires_and_a_closed_one_ends(
    short_sessions: Starlette, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    teller = mint(Role.TELLER, "teller-3")
    transport = httpx.ASGITransport(app=short_sessions)
    async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as client:
        await gql_data(client, OPEN, _input(made), token=teller)
        await asyncio.sleep(2.3)
        assert await _number(client, made, teller) != made.resident_id
        await gql_data(client, OPEN, _input(made), token=teller)
        closed = await gql_data(client, CLOSE, {"id": encode_id("Customer", made.id)}, token=teller)
        assert closed["closeCounterSession"] == {
            "__typename": "CloseCounterSessionPayload",
            "closed": True,
        }
        assert await _number(client, made, teller) != made.resident_id


async def test_a_session_needs_the_customers_own_document(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    other = await make_customer(engine)
    teller = mint(Role.TELLER, "teller-4")
    wrong = await gql_data(anonymous, OPEN, _input(made, other.resident_id), token=teller)
    assert wrong["openCounterSession"] == {
        "__typename": "IdentityNotVerifiedError",
        "code": "IDENTITY_NOT_VERIFIED",
    }
    typo = made.resident_id[:-1] + ("0" if made.resident_id[-1] != "0" else "1")
    invalid = await gql_data(anonymous, OPEN, _input(made, typo), token=teller)
    assert invalid["openCounterSession"]["code"] == "INVALID_INPUT"
    agent = await gql_data(anonymous, OPEN, _input(made), token=mint(Role.AGENT, "a"))
    assert agent["openCounterSession"]["code"] == "FORBIDDEN"
