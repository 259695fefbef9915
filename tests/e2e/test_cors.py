"""CORS (issue 21): a browser's preflight is answered without a token for the origins in
QUANJING_CORS_ORIGINS, refused with a code for others, and nothing is allowed by default."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources
from api.http.app import create_app
from api.settings import Settings
from domain.access.principal import Role
from tests.conftest import Minter

DESK = "https://desk.bank.example"
PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type, x-channel",
}


@pytest.fixture
def browser_app(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int
) -> Starlette:
    allowed = replace(settings, cors_origins=(DESK,))
    return create_app(allowed, Resources(engine=engine, redis=redis_client))


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q.test")


async def test_a_preflight_from_an_allowed_origin_needs_no_token(browser_app: Starlette) -> None:
    async with _client(browser_app) as browser:
        answer = await browser.options("/graphql", headers={"origin": DESK, **PREFLIGHT})
    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] == DESK
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
    }
    assert "authorization" in answer.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.headers["x-request-id"]


async def test_an_allowed_origin_reads_the_answer_and_its_correlation_id(
    browser_app: Starlette, mint: Minter
) -> None:
    token = mint(Role.AGENT, "browser-agent")
    async with _client(browser_app) as browser:
        answer = await browser.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": DESK, "authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == DESK
    assert "x-request-id" in answer.headers["access-control-expose-headers"]


async def test_another_origin_is_refused_with_a_code(browser_app: Starlette) -> None:
    async with _client(browser_app) as browser:
        refused = await browser.options(
            "/graphql", headers={"origin": "https://evil.example", **PREFLIGHT}
        )
        simple = await browser.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"}
        )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "CORS_NOT_ALLOWED"
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in simple.headers  # the browser keeps it unread


async def test_no_origin_is_allowed_unless_configured(client: httpx.AsyncClient) -> None:
    answer = await client.options("/graphql", headers={"origin": DESK, **PREFLIGHT})
    assert "access-control-allow-origin" not in answer.headers
