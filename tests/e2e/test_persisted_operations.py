"""Registered operations: valid against the schema, addressable by sha256, same answers."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from graphql import parse, validate
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ids import encode_id
from schema import schema
from schema.core.persisted import registry
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


async def test_an_apollo_client_retries_an_unregistered_query_with_its_text(
    client: httpx.AsyncClient,
) -> None:
    """Automatic persisted queries: the hash alone is not found; the hash with the text it is
    the hash of runs as that text (it is not registered by being sent)."""
    query = "{ customers(first: 1) { edges { cursor } } }"
    apq = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    first = await client.post("/graphql", json={"extensions": apq})
    assert first.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    retried = await client.post("/graphql", json={"query": query, "extensions": apq})
    assert retried.status_code == 200, retried.text
    assert len(retried.json()["data"]["customers"]["edges"]) == 1
    again = await client.post("/graphql", json={"extensions": apq})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


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
