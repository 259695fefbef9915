"""customer.fundMovements: the statement a desk and the app read, filtered, paged and audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql, gql_data

RECORD = """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on Error { code message } } }"""

STATEMENT = """query ($id: ID!, $after: String, $filter: FundMovementFilterInput) {
  customer(id: $id) { ... on Customer {
    fundMovements(first: 2, after: $after, filter: $filter) {
      edges { cursor node { id holdingId amount currency direction counterpartyKind channel
        bookedAt } }
      pageInfo { hasNextPage endCursor } } } } }"""

SELF = """query ($after: String) { me { ... on Customer {
  fundMovements(first: 2, after: $after) {
    edges { cursor node { amount direction bookedAt } }
    pageInfo { hasNextPage endCursor } } } } }"""

# (holding index, amount, direction, counterparty, booked at): not in booking order.
MOVEMENTS = (
    (0, "500.00", "CREDIT", "PERSON", "2026-11-03T09:00:00+00:00"),
    (1, "20000.00", "DEBIT", "OTHER_BANK", "2026-11-10T09:00:00+00:00"),
    (0, "88.80", "DEBIT", "MERCHANT", "2026-11-07T09:00:00+00:00"),
    (1, "3000.00", "CREDIT", "COMPANY", "2026-11-12T09:00:00+00:00"),
    (0, "15.00", "DEBIT", "BANK_FEE", "2026-11-07T09:00:00+00:00"),  # same time as the 88.80
)


async def _customer_with_movements(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> tuple[Made, list[int]]:
    made = await make_customer(engine)
    async with engine.connect() as conn:
        holdings = list(
            await conn.scalars(
                text("SELECT id FROM holdings WHERE customer_id = :c ORDER BY id"), {"c": made.id}
            )
        )
    core = mint(Role.INTEGRATION, "core-statement")
    for n, (holding, amount, direction, counterparty, booked) in enumerate(MOVEMENTS):
        answer = await gql_data(
            client,
            RECORD,
            {
                "input": {
                    "holdingId": encode_id("Holding", holdings[holding]),
                    "amount": amount,
                    "currency": "CNY",
                    "direction": direction,
                    "counterpartyKind": counterparty,
                    "channel": "WEB_BANKING",
                    "bookedAt": booked,
                    "externalRef": f"statement-{made.id}-{n}",
                }
            },
            token=core,
        )
        assert answer["recordFundMovement"]["__typename"] == "RecordFundMovementPayload", answer
    return made, holdings


async def _all(
    client: httpx.AsyncClient,
    token: str,
    query: str,
    variables: dict[str, Any],
    root: str,
) -> list[dict[str, Any]]:
    """Every page, following each page's last edge cursor."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gql_data(client, query, {**variables, "after": after}, token=token)
        page = data[root]["fundMovements"]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["edges"][-1]["cursor"]


async def test_the_rm_reads_the_statement_newest_first_filtered_and_paged(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made, holdings = await _customer_with_movements(anonymous, engine, mint)
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)  # the factories' customers are RM 1's
    gid = encode_id("Customer", made.id)

    async def amounts(wanted: dict[str, Any] | None) -> list[str]:
        found = await _all(anonymous, rm, STATEMENT, {"id": gid, "filter": wanted}, "customer")
        return [m["amount"] for m in found]

    # Newest booked first; the two booked at one time, newest recorded first.
    assert await amounts(None) == ["3000.00", "20000.00", "15.00", "88.80", "500.00"]
    assert await amounts({"direction": "DEBIT"}) == ["20000.00", "15.00", "88.80"]
    assert await amounts({"minAmount": "88.80", "maxAmount": "3000"}) == [
        "3000.00",
        "88.80",
        "500.00",
    ]
    window = {"since": "2026-11-07T09:00:00+00:00", "until": "2026-11-12T09:00:00+00:00"}
    assert await amounts(window) == ["20000.00", "15.00", "88.80"]
    on_second = {"holdingId": encode_id("Holding", holdings[1])}
    assert await amounts(on_second) == ["3000.00", "20000.00"]
    first = (await _all(anonymous, rm, STATEMENT, {"id": gid, "filter": None}, "customer"))[0]
    assert first == {
        "id": first["id"],
        "holdingId": encode_id("Holding", holdings[1]),
        "amount": "3000.00",
        "currency": "CNY",
        "direction": "CREDIT",
        "counterpartyKind": "COMPANY",
        "channel": "WEB_BANKING",
        "bookedAt": "2026-11-12T09:00:00+00:00",
    }
    # Another customer's holding matches nothing here.
    other = await make_customer(engine)
    async with engine.connect() as conn:
        foreign = await conn.scalar(
            text("SELECT min(id) FROM holdings WHERE customer_id = :c"), {"c": other.id}
        )
    assert await amounts({"holdingId": encode_id("Holding", foreign)}) == []


async def test_the_customer_sees_their_own_figures_and_an_agent_sees_none(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made, _ = await _customer_with_movements(anonymous, engine, mint)
    own = await _all(anonymous, mint(Role.CUSTOMER, "self", cid=made.id), SELF, {}, "me")
    assert [(m["amount"], m["direction"]) for m in own] == [
        ("3000.00", "CREDIT"),
        ("20000.00", "DEBIT"),
        ("15.00", "DEBIT"),
        ("88.80", "DEBIT"),
        ("500.00", "CREDIT"),
    ]
    # The app's registered operation answers the same, by its id alone.
    registered = next(op for op in registry().values() if op.name == "self_movements")
    by_id = await anonymous.post(
        "/graphql",
        json={"id": registered.sha256, "variables": {}},
        headers={"authorization": f"Bearer {mint(Role.CUSTOMER, 'self', cid=made.id)}"},
    )
    statement = by_id.json()["data"]["me"]["fundMovements"]
    assert [e["node"]["amount"] for e in statement["edges"]] == [m["amount"] for m in own]
    agent = mint(Role.AGENT, "agent-statement")
    gid = encode_id("Customer", made.id)
    seen = await _all(anonymous, agent, STATEMENT, {"id": gid, "filter": None}, "customer")
    assert len(seen) == len(MOVEMENTS)
    assert {(m["amount"], m["direction"], m["counterpartyKind"]) for m in seen} == {
        (None, None, None)
    }


async def test_reading_the_statement_is_audited_with_its_figures(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made, _ = await _customer_with_movements(anonymous, engine, mint)
    gid = encode_id("Customer", made.id)
    query = """query Statement($id: ID!) { customer(id: $id) { ... on Customer {
      fundMovements(first: 5) { nodes { amount direction bookedAt } } } } }"""
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm-statement", rm=1)
    await gql_data(anonymous, query, {"id": gid}, token=rm)
    trail = await gql_data(
        anonymous,
        """query ($id: ID!) { auditTrail(customerId: $id, first: 10) {
        nodes { subject operation fields } } }""",
        {"id": gid},
        token=mint(Role.COMPLIANCE, "co-statement"),
    )
    records = [r for r in trail["auditTrail"]["nodes"] if r["subject"] == "rm-statement"]
    assert records == [
        {
            "subject": "rm-statement",
            "operation": "Statement",
            "fields": [
                "FundMovement.amount:clear",
                "FundMovement.bookedAt:clear",
                "FundMovement.direction:clear",
            ],
        }
    ]


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        ({"since": "2026-11-10T00:00:00+00:00", "until": "2026-11-01T00:00:00+00:00"}, "until"),
        ({"since": "2026-11-10T00:00:00"}, "since"),
        ({"minAmount": "100", "maxAmount": "10"}, "maxAmount"),
        ({"minAmount": "-1"}, "minAmount"),
        ({"holdingId": encode_id("Customer", 1)}, "holdingId"),
    ],
)
async def test_a_filter_that_can_match_nothing_sane_is_invalid_input(
    anonymous: httpx.AsyncClient, mint: Minter, wanted: dict[str, Any], field: str
) -> None:
    bad = await gql(
        anonymous,
        STATEMENT,
        {"id": encode_id("Customer", 1), "filter": wanted},
        token=mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1),
    )
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert bad["errors"][0]["extensions"]["field"] == f"filter.{field}"
