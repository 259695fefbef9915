"""Limits that keep the service up, each checked just under and just over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from graphql import Lexer, Source, TokenKind, get_introspection_query, parse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources
from api.http.app import create_app
from api.redis.rate_limits import RedisTokenBuckets
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from schema.core.query_cost import selection_cost
from tests.conftest import Minter, as_production
from tests.graphql import endpoint_of, gql, ports_of


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "") for e in body.get("errors", [])]


def _depth_query(depth: int) -> str:
    # Depth counts the nested selection levels under the root field (the limiter's rule):
    # customer → homeBranch → parent … → name, a branch chain as deep as asked.
    inner = "name"
    for _ in range(depth - 2):
        inner = f"parent {{ {inner} }}"
    return (
        f'{{ customer(id: "{encode_id("Customer", 1)}") '
        f"{{ ... on Customer {{ homeBranch {{ {inner} }} }} }} }}"
    )


async def test_query_depth_is_limited(client: httpx.AsyncClient) -> None:
    assert "errors" not in await gql(client, _depth_query(MAX_DEPTH))
    over = await gql(client, _depth_query(MAX_DEPTH + 1))
    assert "exceeds maximum operation depth" in over["errors"][0]["message"]


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_aliases_are_limited(client: httpx.AsyncClient) -> None:
    assert "errors" not in await gql(client, _aliases(MAX_ALIASES))
    over = await gql(client, _aliases(MAX_ALIASES + 1))
    assert "aliases found" in over["errors"][0]["message"]


def _token_count(query: str) -> int:
    lexer = Lexer(Source(query))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def _tokens(count: int) -> str:
    """A valid query of exactly `count` tokens: a long enum list argument pads it."""
    template = (
        f'{{ customer(id: "{encode_id("Customer", 1)}") {{ ... on Customer {{ '
        "interactions(first: 1, channels: [CHANNELS]) { edges { cursor } } } } }"
    )
    padding = count - _token_count(template.replace("CHANNELS", "COUNTER"))
    query = template.replace("CHANNELS", " ".join(["COUNTER"] * (padding + 1)))
    assert _token_count(query) == count
    return query


async def test_tokens_are_limited(client: httpx.AsyncClient) -> None:
    assert "errors" not in await gql(client, _tokens(MAX_TOKENS))
    over = await gql(client, _tokens(MAX_TOKENS + 1))
    assert "token" in over["errors"][0]["message"].lower()


async def test_first_is_required_and_bounded(client: httpx.AsyncClient) -> None:
    q = "query ($n: Int!) { customers(first: $n) { edges { cursor } } }"
    assert "errors" not in await gql(client, q, {"n": 100})
    assert _codes(await gql(client, q, {"n": 101})) == ["INVALID_INPUT"]
    missing = await gql(client, "{ customers { edges { cursor } } }")
    assert "first" in missing["errors"][0]["message"]


async def test_the_body_size_is_limited(client: httpx.AsyncClient, settings: Settings) -> None:
    def body(size: int) -> bytes:
        skeleton = b'{"query": "{ __typename }", "variables": {"pad": ""}}'
        pad = size - len(skeleton)
        return skeleton.replace(b'""', b'"' + b"x" * pad + b'"')

    headers = {"content-type": "application/json"}
    under = await client.post("/graphql", content=body(settings.max_body_bytes), headers=headers)
    assert under.status_code == 200
    over = await client.post("/graphql", content=body(settings.max_body_bytes + 1), headers=headers)
    assert over.status_code == 413
    assert over.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert over.json()["data"] is None  # the same shape as every other refusal

    async def chunks() -> Any:  # no content-length: refused while it streams
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b" " * 1024

    streamed = await client.post("/graphql", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert streamed.json() == over.json() | {"errors": streamed.json()["errors"]}
    assert streamed.json()["data"] is None


class SlowReader:
    def __getattr__(self, name: str) -> Any:
        async def slow(*args: object) -> Any:
            await asyncio.sleep(5)

        return slow


@pytest.fixture
async def limited_app(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int
) -> tuple[Starlette, Settings]:
    tight = replace(
        settings, request_timeout_seconds=1, rate_capacity=300, rate_refill_per_second=10
    )
    return create_app(tight, Resources(engine=engine, redis=redis_client)), tight


async def _client(app: Starlette, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://q.test",
        headers={"authorization": f"Bearer {token}"},
    )


async def test_a_request_that_runs_too_long_is_cut_off(
    limited_app: tuple[Starlette, Settings], mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = limited_app
    monkeypatch.setattr(ports_of(app), "reader", SlowReader())
    async with await _client(app, mint(Role.AGENT, "slow")) as client:
        response = await client.post(
            "/graphql", json={"query": "{ customers(first: 1) { edges { cursor } } }"}
        )
    assert response.status_code == 504
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


async def test_each_principal_has_a_token_bucket_weighted_by_cost(
    limited_app: tuple[Starlette, Settings], mint: Minter
) -> None:
    app, tight = limited_app
    query = "{ customers(first: 50) { edges { cursor node { code displayName } } } }"
    cost = selection_cost(parse(query).definitions[0].selection_set, {}, {})  # type: ignore[attr-defined]
    assert tight.rate_capacity >= cost > tight.rate_capacity / 2
    async with (
        await _client(app, mint(Role.AGENT, "bucket-a")) as a,
        await _client(app, mint(Role.AGENT, "bucket-b")) as b,
    ):
        assert "errors" not in (await a.post("/graphql", json={"query": query})).json()
        refused = (await a.post("/graphql", json={"query": query})).json()
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 0 < error["extensions"]["retryAfter"] <= cost / tight.rate_refill_per_second
        assert refused["data"] is None
        # Another principal has a bucket of its own.
        assert "errors" not in (await b.post("/graphql", json={"query": query})).json()


async def test_a_page_larger_than_any_list_serves_is_refused_by_the_list_not_the_limiter(
    limited_app: tuple[Starlette, Settings], mint: Minter
) -> None:
    app, _ = limited_app
    async with await _client(app, mint(Role.AGENT, "huge-page")) as client:
        body = (
            await client.post(
                "/graphql", json={"query": "{ customers(first: 100000) { edges { cursor } } }"}
            )
        ).json()
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "first"}


async def test_an_operation_costing_more_than_the_whole_bucket_is_refused_for_good(
    limited_app: tuple[Starlette, Settings], mint: Minter
) -> None:
    app, tight = limited_app
    query = "{ customers(first: 100) { edges { cursor node { code displayName } } } }"
    cost = selection_cost(parse(query).definitions[0].selection_set, {}, {})  # type: ignore[attr-defined]
    assert cost > tight.rate_capacity
    async with await _client(app, mint(Role.AGENT, "too-costly")) as client:
        refused = (await client.post("/graphql", json={"query": query})).json()
        (error,) = refused["errors"]
        # Not RATE_LIMITED with a retryAfter: waiting would never make it affordable.
        assert error["extensions"] == {
            "code": "QUERY_TOO_COSTLY",
            "cost": cost,
            "limit": tight.rate_capacity,
        }
        assert refused["data"] is None
        # Nothing was charged: a query costing nearly the whole bucket still runs.
        affordable = "{ customers(first: 50) { edges { cursor node { code displayName } } } }"
        assert "errors" not in (await client.post("/graphql", json={"query": affordable})).json()


async def test_a_page_size_in_a_variable_default_is_charged_as_sent(
    limited_app: tuple[Starlette, Settings], mint: Minter
) -> None:
    app, tight = limited_app
    query = (
        "query Q($n: Int = 100) { customers(first: $n) { edges { node { code "
        "interactions(first: $n) { edges { node { id kind } } } } } } }"
    )
    async with await _client(app, mint(Role.AGENT, "defaulted")) as client:
        refused = (await client.post("/graphql", json={"query": query})).json()
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > tight.rate_capacity
    assert refused["data"] is None


async def test_the_bucket_is_atomic_under_concurrency(redis_client: aioredis.Redis) -> None:
    buckets = RedisTokenBuckets(redis_client, capacity=100, refill_per_second=0.001)
    results = await asyncio.gather(*(buckets.acquire("race", 10) for _ in range(30)))
    assert sum(r is None for r in results) == 10  # exactly capacity / cost succeed


async def test_without_redis_the_limit_still_holds_in_process() -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        buckets = RedisTokenBuckets(unreachable, capacity=30, refill_per_second=0.001)
        assert await buckets.acquire("k", 20) is None
        assert await buckets.acquire("k", 20) is not None
    finally:
        await unreachable.aclose()


@pytest.fixture
async def production(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int, mint: Minter
) -> AsyncIterator[httpx.AsyncClient]:
    # Production verifies JWKS tokens; for these checks the development verifier stands in,
    # what is tested is the schema and HTTP behaviour of production mode.
    app = create_app(as_production(settings), Resources(engine=engine, redis=redis_client))
    async with await _client(app, mint(Role.AGENT, "prod")) as client:
        yield client


async def test_production_hides_the_schema_and_refuses_get_and_batches(
    production: httpx.AsyncClient,
) -> None:
    introspection = (
        await production.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    ).json()
    assert "introspection" in introspection["errors"][0]["message"].lower()
    typo = (
        await production.post("/graphql", json={"query": "{ custome(id: 1) { __typename } }"})
    ).json()
    assert "Did you mean" not in typo["errors"][0]["message"]
    get = await production.get("/graphql", params={"query": "{ __typename }"})
    assert get.status_code in (400, 405)
    ide = await production.get("/graphql", headers={"accept": "text/html"})
    assert "graphiql" not in ide.text.lower()
    batch = await production.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert batch.status_code == 400
    assert batch.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert get.json()["errors"][0]["extensions"]["code"] in ("BAD_REQUEST", "METHOD_NOT_ALLOWED")


async def test_a_refused_caller_is_refused_again_before_anything_is_parsed(
    limited_app: tuple[Starlette, Settings], mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22, defect 8: ~300 refusals a second used both cores, because each was parsed,
    validated and costed, and sent to Redis, before being refused. After one refusal the
    caller's bucket is known to be short until it refills: the same text (its cost remembered)
    is refused from that alone, with the same answer, until it can be paid."""
    app, tight = limited_app
    query = "{ customers(first: 50) { edges { cursor node { code } } } }"
    cost = selection_cost(parse(query).definitions[0].selection_set, {}, {})  # type: ignore[attr-defined]
    viewed: list[int] = []
    endpoint = endpoint_of(app)
    view = endpoint._view

    async def counted(*args: Any) -> None:
        viewed.append(1)
        await view(*args)

    monkeypatch.setattr(endpoint, "_view", counted)
    limiter = ports_of(app).rate_limiter
    assert limiter is not None
    async with await _client(app, mint(Role.AGENT, "hammer")) as hammer:
        assert "errors" not in (await hammer.post("/graphql", json={"query": query})).json()
        first = (await hammer.post("/graphql", json={"query": query})).json()
        assert first["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert len(viewed) == 2
        scripts: list[int] = []
        acquire = limiter.acquire

        async def counted_acquire(*args: Any) -> float | None:
            scripts.append(1)
            return await acquire(*args)

        monkeypatch.setattr(limiter, "acquire", counted_acquire)
        for _ in range(20):
            again = (await hammer.post("/graphql", json={"query": query})).json()
            assert again["data"] is None
            (error,) = again["errors"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert 0 < error["extensions"]["retryAfter"] <= cost / tight.rate_refill_per_second
            assert set(error) == set(first["errors"][0])
        # Asked as graphql-response+json, the refusal is a request error: 429, no data.
        modern = await hammer.post(
            "/graphql",
            json={"query": query},
            headers={"accept": "application/graphql-response+json"},
        )
        assert modern.status_code == 429
        assert modern.headers["content-type"].startswith("application/graphql-response+json")
        assert "data" not in modern.json()
        assert modern.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert len(viewed) == 2  # none of the 21 reached the GraphQL view
        assert scripts == []  # nor Redis
        # A cheaper request the bucket can pay is not refused by the estimate.
        cheap = "{ customers(first: 1) { edges { cursor } } }"
        assert "errors" not in (await hammer.post("/graphql", json={"query": cheap})).json()
        assert len(viewed) == 3
    async with await _client(app, mint(Role.AGENT, "bystander")) as other:
        assert "errors" not in (await other.post("/graphql", json={"query": query})).json()


async def test_the_standard_introspection_query_works_in_development_only(
    client: httpx.AsyncClient, production: httpx.AsyncClient
) -> None:
    """Issue 23: GraphiQL's docs, code generators, Postman and schemathesis send graphql-js's
    getIntrospectionQuery (depth 14); it was refused for the depth limit of 10. Development
    answers it; an operation that is not only introspection keeps every limit; production
    keeps introspection closed."""
    standard = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    answer = await gql(client, standard)
    assert "errors" not in answer, answer.get("errors")
    assert any(t["name"] == "Customer" for t in answer["data"]["__schema"]["types"])
    mixed = standard.replace("__schema {", "customers(first: 1) { edges { cursor } } __schema {", 1)
    refused = await gql(client, mixed)
    assert "maximum operation depth" in refused["errors"][0]["message"]
    closed = (await production.post("/graphql", json={"query": standard})).json()
    assert closed["data"] is None
    assert closed["errors"]  # refused (by the depth limit first, introspection closed anyway)
