"""Registered operations: valid against the schema, addressable by sha256, same answers."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest
import redis.asyncio as aioredis
from graphql import parse, validate
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources
from api.http.app import create_app
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema import schema
from schema.core.persisted import registry
from tests.conftest import Minter, as_production
from tests.factories import make_customer


def test_the_channels_operations_are_registered_and_valid() -> None:
    names = {op.name for op in registry().values()}
    assert {
        "call_center_profile",
        "self_view",
        "self_movements",
        "customer_search",
        "record_interaction",
    } <= names
    for digest, operation in registry().items():
        assert hashlib.sha256(operation.query.encode()).hexdigest() == digest
        assert validate(schema._schema, parse(operation.query)) == [], operation.name


def _profile() -> str:
    return next(op.sha256 for op in registry().values() if op.name == "call_center_profile")


async def test_an_operation_by_id_answers_exactly_as_by_text(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, interactions=3)
    variables = {"id": encode_id("Customer", made.id)}
    by_text = await client.post(
        "/graphql", json={"query": registry()[_profile()].query, "variables": variables}
    )
    by_id = await client.post("/graphql", json={"id": _profile(), "variables": variables})
    by_apq = await client.post(
        "/graphql",
        json={
            "variables": variables,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": _profile()}},
        },
    )
    assert by_text.status_code == by_id.status_code == by_apq.status_code == 200
    assert "errors" not in by_id.json()
    assert by_id.json() == by_text.json() == by_apq.json()
    assert by_id.json()["data"]["customer"]["documents"][0]["number"] == made.resident_id


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"id": "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"id": "__profile__", "query": "{ __typename }"}, "PERSISTED_QUERY_MISMATCH"),
        ({"id": "0" * 64, "query": "{ __typename }"}, "PERSISTED_QUERY_MISMATCH"),
    ],
)
async def test_an_unknown_or_mismatched_operation_is_a_400_with_a_code(
    client: httpx.AsyncClient, body: dict[str, str], code: str
) -> None:
    if body["id"] == "__profile__":
        body = {**body, "id": _profile()}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": code}
    assert response.json()["data"] is None


async def _apq_round(client: httpx.AsyncClient, query: str) -> httpx.Response:
    """Apollo's automatic persisted queries: the hash alone, the retry with the text, then
    the hash alone again; returns the last answer."""
    apq = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    first = await client.post("/graphql", json={"extensions": apq})
    # The protocol's message and code: Apollo Kotlin matches the message, Apollo Client either.
    assert first.status_code == 400
    assert first.json()["errors"][0] == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }
    retried = await client.post("/graphql", json={"query": query, "extensions": apq})
    assert retried.status_code == 200, retried.text
    assert len(retried.json()["data"]["customers"]["edges"]) == 1
    return await client.post("/graphql", json={"extensions": apq})


async def test_development_learns_a_query_from_an_apollo_retry(client: httpx.AsyncClient) -> None:
    again = await _apq_round(client, "{ customers(first: 1) { edges { cursor node { id } } } }")
    assert again.status_code == 200, again.text
    assert len(again.json()["data"]["customers"]["edges"]) == 1


async def test_production_keeps_its_safelist_through_an_apollo_retry(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, mint: Minter
) -> None:
    """The retry with the text runs (arbitrary queries are allowed within the limits), but
    is never learned: the hash alone stays unknown."""
    app = create_app(as_production(settings), Resources(engine=engine, redis=redis_client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://q.test",
        headers={"authorization": f"Bearer {mint(Role.AGENT, 'prod-apq')}"},
    ) as production:
        again = await _apq_round(production, "{ customers(first: 1) { edges { cursor } } }")
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_only_get_runs_a_registered_operation_and_needs_a_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Issue 23: a GET naming an operation by its hash alone (urql's and Apollo's persisted
    GETs, sent with `Accept: */*`) got GraphiQL's page, without authentication: the page's
    exemption took any GET without `query=` for a page request."""
    made = await make_customer(engine)
    variables = json.dumps({"id": encode_id("Customer", made.id)})
    profile = next(op for op in registry().values() if op.name == "call_center_profile")
    apq = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": profile.sha256}})
    for params in ({"id": profile.sha256}, {"extensions": apq}):
        answer = await client.get(
            "/graphql", params={**params, "variables": variables}, headers={"accept": "*/*"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["customer"]["id"] == encode_id("Customer", made.id)
        refused = await anonymous.get(
            "/graphql", params={**params, "variables": variables}, headers={"accept": "text/html"}
        )
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "TOKEN_MISSING"
    # The page itself still opens without a token, for a browser asking for HTML only.
    page = await anonymous.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (await anonymous.get("/graphql", headers={"accept": "*/*"})).status_code == 401


async def test_a_get_whose_variables_hold_an_id_runs_in_development(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Issue 23: urql's default and Apollo's useGETForQueries send queries as GET; a variable
    named `id` (the schema's own `customer(id:)`) was taken for a persisted operation's id and
    refused with PERSISTED_QUERY_NOT_FOUND."""
    made = await make_customer(engine)
    query = "query One($id: ID!) { customer(id: $id) { __typename ... on Customer { id } } }"
    answer = await client.get(
        "/graphql",
        params={
            "query": query,
            "variables": json.dumps({"id": encode_id("Customer", made.id)}),
            "operationName": "One",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["customer"]["id"] == encode_id("Customer", made.id)
    # A GET may still name a persisted operation by its id, as a POST does.
    unknown = await client.get(
        "/graphql", params={"id": "0" * 64}, headers={"accept": "application/json"}
    )
    assert unknown.status_code == 400, (unknown.status_code, unknown.text)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_graphiql_s_page_and_its_assets_come_from_quanjing(
    anonymous: httpx.AsyncClient,
) -> None:
    """Issue 23: the page loaded its scripts from unpkg.com, which a bank's intranet never
    reaches. Each asset it names is served here, without a token (no data in them)."""
    page = await anonymous.get("/graphql", headers={"accept": "text/html"})
    assert "unpkg.com" not in page.text
    assets = re.findall(r'(?:src|href)="(/graphiql/[^"]+)"', page.text)
    assert len(assets) == 7
    for asset in assets:
        served = await anonymous.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
            "text/css",
        )
