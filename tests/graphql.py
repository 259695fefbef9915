"""Send GraphQL over HTTP the way a channel does, and read the answer."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from api.http.graphql_view import GraphQLEndpoint
from schema.core.context import Ports


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def gql_data(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    body = await gql(client, query, variables, token=token)
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def endpoint_of(app: Starlette) -> GraphQLEndpoint:
    for route in app.routes:
        endpoint = getattr(route, "app", None)
        if getattr(route, "path", "") == "/graphql" and isinstance(endpoint, GraphQLEndpoint):
            return endpoint
    raise AssertionError("the app serves no GraphQL endpoint")


def ports_of(app: Starlette) -> Ports:
    """The ports the app's GraphQL endpoint serves with: a test swaps one to break it."""
    ports = endpoint_of(app).ports
    assert ports is not None
    return ports
