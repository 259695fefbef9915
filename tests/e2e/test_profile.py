"""The consolidated profile over HTTP, and what it costs in SQL statements."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ids import encode_id
from tests.factories import make_customer
from tests.graphql import gql_data
from tests.statements import StatementCounter

PROFILE = """
query Profile($id: ID!) {
  customer(id: $id) {
    __typename
    ... on Customer {
      id code displayName kind
      personal { gender birthDate creditStatus }
      documents { type number }
      contactPoints { kind value isPreferred }
      homeBranch { name city parent { name } }
      relationshipManager { name grade branch { name } }
      relationship { state since history { fromState toState reasonCode actor } }
      holdings {
        productCount categoriesHeld
        totals { currency deposits loans assetsUnderManagement }
        items { accountNumber balance status product { code name category } }
      }
      interactions(first: 20) {
        edges { cursor node { id channel kind occurredAt cost summary branch { name } } }
        pageInfo { hasNextPage endCursor }
      }
    }
    ... on Error { code message }
  }
}
"""


async def test_the_profile_query_returns_the_whole_customer(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, name="周全景", interactions=25)
    data = await gql_data(client, PROFILE, {"id": encode_id("Customer", made.id)})
    customer = data["customer"]
    assert customer["__typename"] == "Customer"
    assert customer["displayName"] == "周全景"
    assert customer["documents"] == [{"type": "RESIDENT_ID", "number": made.resident_id}]
    assert customer["contactPoints"] == [
        {"kind": "PHONE", "value": made.phone, "isPreferred": True}
    ]
    assert customer["relationship"]["state"] == "WATCH"
    assert [h["toState"] for h in customer["relationship"]["history"]] == ["WATCH", "NORMAL"]
    assert customer["holdings"]["productCount"] == 2
    assert len(customer["holdings"]["items"]) == 2
    timeline = customer["interactions"]
    assert len(timeline["edges"]) == 20
    assert timeline["pageInfo"]["hasNextPage"] is True
    summaries = [e["node"]["summary"] for e in timeline["edges"]]
    assert summaries == [f"第{i}次咨询" for i in range(20)]  # newest first


@pytest.mark.parametrize("interaction_count", [1, 500])
async def test_the_profile_costs_the_same_statements_for_small_and_large_customers(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    statements: StatementCounter,
    interaction_count: int,
) -> None:
    made = await make_customer(engine, interactions=interaction_count, holdings=6)
    with statements.capture() as sent:
        data = await gql_data(client, PROFILE, {"id": encode_id("Customer", made.id)})
    assert data["customer"]["__typename"] == "Customer"
    # One batch per loader per level of the query, never one per item: the customer; its
    # documents, contact points, home branch, RM, state, history, pending proposal, holdings
    # and timeline; then
    # the parent branch, the RM's branch and the interactions' branches, which share a batch
    # or take two depending on which database answers first; and the read audit's INSERT.
    assert len(sent) <= PROFILE_STATEMENT_BOUND, "\n\n".join(sent)


PROFILE_STATEMENT_BOUND = 13


async def test_page_info_has_the_relay_fields(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Issue 23: the Relay specification's PageInfo has hasPreviousPage and startCursor too
    (Relay and Apollo's relayStylePagination read them)."""
    await make_customer(engine)
    await make_customer(engine)
    data = await gql_data(
        client,
        "{ customers(first: 2) { edges { cursor } pageInfo { hasNextPage hasPreviousPage "
        "startCursor endCursor } } }",
    )
    page = data["customers"]
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    assert page["pageInfo"]["hasPreviousPage"] is False
