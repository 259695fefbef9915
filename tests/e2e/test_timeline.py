"""The timeline: filters, stable cursors while new interactions arrive, channel mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import NOW, make_customer
from tests.graphql import gql, gql_data

PAGE = """query ($id: ID!, $after: String, $channels: [Channel!], $kinds: [InteractionKind!],
  $since: DateTime, $until: DateTime) { customer(id: $id) { ... on Customer {
  interactions(first: 7, after: $after, channels: $channels, kinds: $kinds, since: $since,
               until: $until) {
    edges { node { id channel occurredAt } } pageInfo { hasNextPage endCursor } } } } }"""
RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename } }"""


async def test_paging_has_no_gaps_or_repeats_while_new_interactions_arrive(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=30, same_timestamp=True)
    gid = encode_id("Customer", made.id)
    agent = mint(Role.AGENT, "pager")
    seen: list[str] = []
    after = None
    while True:
        data = await gql_data(client, PAGE, {"id": gid, "after": after})
        page = data["customer"]["interactions"]
        seen += [e["node"]["id"] for e in page["edges"]]
        # Between pages a new interaction arrives: it is newer, so it never shifts the pages
        # that follow the cursor.
        await gql_data(
            client,
            RECORD,
            {
                "input": {
                    "customerId": gid,
                    "channel": "MOBILE_APP",
                    "kind": "INQUIRY",
                    "occurredAt": datetime.now(UTC).isoformat(),
                }
            },
            token=agent,
        )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 30


async def test_the_timeline_filters_by_channel_kind_and_period(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, interactions=10)  # one a minute before NOW, alternating
    gid = encode_id("Customer", made.id)
    counter = await gql_data(client, PAGE, {"id": gid, "channels": ["COUNTER"]})
    nodes = [e["node"] for e in counter["customer"]["interactions"]["edges"]]
    assert {n["channel"] for n in nodes} == {"COUNTER"}
    assert len(nodes) == 5
    window = await gql_data(
        client,
        PAGE,
        {
            "id": gid,
            "since": (NOW - timedelta(minutes=3)).isoformat(),
            "until": (NOW - timedelta(minutes=1)).isoformat(),
        },
    )
    assert len(window["customer"]["interactions"]["edges"]) == 2  # minutes 3 and 2 before NOW
    none = await gql_data(client, PAGE, {"id": gid, "kinds": ["COMPLAINT"]})
    assert none["customer"]["interactions"]["edges"] == []
    backwards = await gql(
        client,
        PAGE,
        {"id": gid, "since": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()},
    )
    assert backwards["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "until"}


async def test_channel_mix_counts_and_costs_per_channel(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=6)  # 3 counter (18.00 each), 3 mobile (none)
    query = """query ($id: ID!) { customer(id: $id) { ... on Customer {
        channelMix { channel count cost } } } }"""
    mix = (await gql_data(client, query, {"id": encode_id("Customer", made.id)}))["customer"][
        "channelMix"
    ]
    assert sorted((m["channel"], m["count"], Decimal(m["cost"])) for m in mix) == [
        ("COUNTER", 3, Decimal("54.00")),
        ("MOBILE_APP", 3, Decimal("0")),
    ]
    own = mint(Role.CUSTOMER, "self", cid=made.id)
    mine = (
        await gql_data(
            client, "{ me { ... on Customer { channelMix { channel cost } } } }", token=own
        )
    )["me"]["channelMix"]
    assert {m["cost"] for m in mine} == {None}  # cost to serve is the bank's business
