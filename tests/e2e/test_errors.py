"""Errors: typed where the client can act, masked with a correlation id everywhere else."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from unittest.mock import ANY

import httpx
import pytest
from starlette.applications import Starlette

from domain.access.principal import Role
from domain.customers.model import Customer
from domain.ids import encode_id
from tests.conftest import Minter
from tests.graphql import gql, gql_data, ports_of

PROFILE = """query ($id: ID!) { customer(id: $id) { __typename
  ... on Customer { displayName } ... on Error { code message }
  ... on InvalidInputError { field } } }"""


async def test_an_unknown_customer_is_a_not_found_error(client: httpx.AsyncClient) -> None:
    data = await gql_data(client, PROFILE, {"id": encode_id("Customer", 987654321)})
    assert data["customer"]["__typename"] == "NotFoundError"
    assert data["customer"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-an-id",
        encode_id("Branch", 1),
        # Past the bigint keys: was an internal error from the driver.
        base64.urlsafe_b64encode(b"Customer:99999999999999999999").decode(),
    ],
)
async def test_a_malformed_or_foreign_id_is_invalid_input(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    data = await gql_data(client, PROFILE, {"id": bad_id})
    assert data["customer"]["__typename"] == "InvalidInputError"
    assert data["customer"]["field"] == "id"


@pytest.mark.parametrize(
    "body", [b"[1, 2", b'"just a string"', b"42", b"null", b"[]", b'[{"query": "{ __typename }"}]']
)
async def test_a_body_that_is_not_a_json_object_is_a_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "data": None,
        "errors": [{"message": ANY, "extensions": {"code": "BAD_REQUEST"}}],
    }


async def test_a_query_with_a_syntax_error_says_so_with_a_code(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ customers(first: 1) { edges ")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Syntax Error" in error["message"]


class ExplodingReader:
    """A ProfileReader whose database is on fire."""

    def __getattr__(self, name: str) -> object:
        async def fail(*args: object) -> Mapping[int, Sequence[Customer]]:
            raise RuntimeError("connection to server at 10.0.0.5 port 5432 failed: secret detail")

        return fail


async def test_an_unexpected_failure_is_masked_and_logged_with_its_correlation_id(
    client: httpx.AsyncClient,
    app: Starlette,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ports_of(app), "reader", ExplodingReader())
    with caplog.at_level(logging.ERROR, logger="schema.core.error_masking"):
        response = await client.post(
            "/graphql",
            json={"query": PROFILE, "variables": {"id": encode_id("Customer", 1)}},
            headers={"x-request-id": "test-correlation-0001"},
        )
    assert response.headers["x-request-id"] == "test-correlation-0001"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "correlationId": "test-correlation-0001",
    }
    assert "secret" not in response.text
    assert "10.0.0.5" not in response.text
    (record,) = [r for r in caplog.records if r.name == "schema.core.error_masking"]
    assert record.correlation_id == "test-correlation-0001"  # type: ignore[attr-defined]
    assert "secret detail" in str(record.exc_info)


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}


async def test_a_nul_character_in_a_literal_or_a_variable_is_invalid_input(
    client: httpx.AsyncClient,
) -> None:
    literal = await gql(client, '{ customers(first: 5, search: "a\\u0000b") { edges { cursor } } }')
    assert literal["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "search"}
    variable = await gql(
        client,
        "query ($s: String!) { customers(first: 5, search: $s) { edges { cursor } } }",
        {"s": "a\u0000b"},
    )
    assert variable["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "s"}
    # The same texts without the NUL run.
    assert "errors" not in await gql(
        client, '{ customers(first: 5, search: "a\\u0041b") { edges { cursor } } }'
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"occurredAt": "garbage"}, "DateTime"),
        ({"cost": "abc"}, "Decimal"),
    ],
)
async def test_a_variable_a_scalar_cannot_parse_is_a_validation_error_not_an_internal_one(
    client: httpx.AsyncClient, variables: dict[str, str], named: str
) -> None:
    record = {
        "customerId": encode_id("Customer", 1),
        "channel": "CALL_CENTER",
        "kind": "INQUIRY",
        "occurredAt": "2026-01-01T00:00:00Z",
        **variables,
    }
    body = await gql(
        client,
        "mutation ($i: RecordInteractionInput!) { recordInteraction(input: $i) { __typename } }",
        {"i": record},
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert named in error["message"]
    assert body["data"] is None


async def test_a_variable_of_the_wrong_json_type_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(
        client,
        "query ($s: String!) { customers(first: 5, search: $s) { edges { cursor } } }",
        {"s": {"not": "a string"}},
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "String cannot represent a non string value" in error["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_a_method_the_endpoint_does_not_serve_is_a_405_with_a_code(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


async def test_not_found_names_the_id_the_client_sent(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    """Issue 23: "task 454 was not found" showed a row number the client never sent (and
    should never see); the message names the global id it did send."""
    agent = mint(Role.AGENT, "agent-not-found")
    sent = encode_id("Task", 987_654_321)
    answer = await gql(
        client,
        """mutation ($input: CompleteTaskInput!) { completeTask(input: $input) {
          __typename ... on Error { code message } } }""",
        {"input": {"taskId": sent, "result": "done"}},
        token=agent,
    )
    result = answer["data"]["completeTask"]
    assert result["code"] == "NOT_FOUND"
    assert sent in result["message"]
    assert "987654321" not in result["message"]
    alert = encode_id("Alert", 987_654_321)
    acknowledged = await gql(
        client,
        "mutation ($id: ID!) { acknowledgeAlert(id: $id) { __typename ... on Error { code message } } }",
        {"id": alert},
        token=mint(Role.ADMIN, "admin-not-found"),
    )
    assert "987654321" not in str(acknowledged)
