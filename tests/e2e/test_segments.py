"""Segments against hand-picked customers, and next best products."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from domain.access.principal import Role
from domain.ids import encode_id
from domain.value.segments import MIN_CELL_SIZE
from tests.conftest import Minter
from tests.factories import backdate, make_customer
from tests.graphql import gql, gql_data
from tests.statements import StatementCounter

INDUSTRY = "测试行业-分群"


async def _sql(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def _usd_deposit(engine: AsyncEngine, customer_id: int, balance: str) -> None:
    await _sql(
        engine,
        "INSERT INTO holdings (customer_id, product_id, account_number, currency, balance, status, "
        "opened_on) SELECT :c, id, :acct, 'USD', :b, 'active', '2024-01-01' FROM products "
        "WHERE code = 'DEP-USD'",
        c=customer_id,
        acct=f"USD-{customer_id}",
        b=Decimal(balance),
    )


PREVIEW = """
query P($rule: SegmentRuleInput!) { segmentPreview(rule: $rule) { count conditions } }
"""

CREATE = """
mutation C($name: String!, $rule: SegmentRuleInput!) {
  createSegment(name: $name, rule: $rule, description: "hand-picked") {
    __typename
    ... on Segment { id name conditions memberCount }
    ... on InvalidInputError { field }
    ... on Error { code }
  }
}
"""

MEMBERS = """
query M($id: ID!) {
  segment(id: $id) {
    name memberCount
    members(first: 10) {
      nodes { customer { ... on Customer { id } } reasons { clause condition value } }
      pageInfo { hasNextPage }
    }
  }
}
"""

RULE = {
    "clauses": [
        {"industries": [INDUSTRY]},
        {"balance": {"measure": "DEPOSITS", "minimum": "2000"}},
        {"holds": {"productCodes": ["DEP-USD"]}},
        {"ageBand": {"maxAge": 30}},
        {"customerKinds": ["PERSONAL"]},
    ]
}


async def test_a_segment_matches_exactly_the_hand_picked_customers_and_says_why(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    # Ten customers match (a cell big enough to count), one of each near miss does not.
    matching = [await make_customer(engine, holdings=1) for _ in range(MIN_CELL_SIZE)]
    b, c = [await make_customer(engine, holdings=1) for _ in range(2)]
    await _sql(
        engine,
        "UPDATE customers SET industry = :i WHERE id = ANY(:ids)",
        i=INDUSTRY,
        ids=[m.id for m in matching] + [b.id],
    )
    for m in [*matching, c]:
        await _usd_deposit(engine, m.id, "6000.00")
    analyst = mint(Role.ANALYST, "analyst-2")

    preview = (await gql_data(anonymous, PREVIEW, {"rule": RULE}, token=analyst))["segmentPreview"]
    assert preview["count"] == MIN_CELL_SIZE
    assert len(preview["conditions"]) == 5
    # One customer matches: too small a cell to count.
    only_b = {"clauses": [{"industries": [INDUSTRY]}, {"notHolds": {"productCodes": ["DEP-USD"]}}]}
    assert (await gql_data(anonymous, PREVIEW, {"rule": only_b}, token=analyst))["segmentPreview"][
        "count"
    ] is None

    saved = (await gql_data(anonymous, CREATE, {"name": "分群-测试", "rule": RULE}, token=analyst))[
        "createSegment"
    ]
    assert (saved["__typename"], saved["memberCount"]) == ("Segment", MIN_CELL_SIZE)
    again = (await gql_data(anonymous, CREATE, {"name": "分群-测试", "rule": RULE}, token=analyst))[
        "createSegment"
    ]
    assert again["code"] == "SEGMENT_NAME_TAKEN"

    # The RM whose portfolio holds them sees who and why, figures included.
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    segment = (await gql_data(anonymous, MEMBERS, {"id": saved["id"]}, token=rm))["segment"]
    members = segment["members"]["nodes"]
    assert [m["customer"]["id"] for m in members] == [encode_id("Customer", m.id) for m in matching]
    values = [r["value"] for r in members[0]["reasons"]]
    assert values[0] == INDUSTRY
    assert Decimal(values[1]) == Decimal("7000.00")  # 1,000 CNY + 6,000 USD at face value
    assert values[2] == "DEP-USD"
    assert int(values[3]) <= 30
    assert values[4] == "personal"
    # The age clause reads a birth date another RM may not see of these customers: that RM
    # lists none of them (membership would tell the age), only their own portfolio's.
    other_rm = mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2)
    elsewhere = await gql_data(anonymous, MEMBERS, {"id": saved["id"]}, token=other_rm)
    assert elsewhere["segment"]["members"]["nodes"] == []
    # Analysts count, never list; nor does an approver, who sees no birth date at all.
    for token in (analyst, mint(Role.APPROVER, "approver-seg")):
        refused = await gql(anonymous, MEMBERS, {"id": saved["id"]}, token=token)
        assert refused["data"] is None or refused["data"]["segment"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_rules_name_the_bad_clause(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    analyst = mint(Role.ANALYST, "analyst-3")
    for rule, field in (
        ({"clauses": []}, "rule.clauses"),
        (
            {"clauses": [{"tiers": ["HIGH"]}, {"tiers": ["LOW"], "cities": ["北京"]}]},
            "rule.clauses[1]",
        ),
        (
            {"clauses": [{"balance": {"measure": "LOANS", "minimum": "5", "maximum": "1"}}]},
            "rule.clauses[0]",
        ),
        ({"clauses": [{"ageBand": {"minAge": -1}}]}, "rule.clauses[0].minAge"),
        ({"clauses": [{"holds": {}}]}, "rule.clauses[0]"),
        (
            {
                "clauses": [
                    {"channelUse": {"channel": "COUNTER", "minInteractions": 0, "withinDays": 30}}
                ]
            },
            "rule.clauses[0].minInteractions",
        ),
    ):
        body = await gql(anonymous, PREVIEW, {"rule": rule}, token=analyst)
        error = body["errors"][0]["extensions"]
        assert (error["code"], error["field"]) == ("INVALID_INPUT", field), rule
    denied = await gql(
        anonymous,
        PREVIEW,
        {"rule": {"clauses": [{"tiers": ["HIGH"]}]}},
        token=mint(Role.AGENT, "a"),
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


OFFERS = """
query O($id: ID!) {
  customer(id: $id) {
    ... on Customer {
      holdings { items { product { code } } }
      nextBestProducts(first: 3) { peerShare reason product { code audience } }
    }
  }
}
"""


async def test_next_best_products_follow_peers_and_respect_consent(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    willing, unwilling = await make_customer(engine), await make_customer(engine)
    await _sql(
        engine,
        "INSERT INTO consents (customer_id, purpose, channel, granted, version, recorded_at, "
        "source, actor) VALUES (:w, 'marketing', 'all', true, 1, now(), 'counter', 'customer'), "
        "(:u, 'marketing', 'all', false, 1, now(), 'counter', 'customer')",
        w=willing.id,
        u=unwilling.id,
    )
    await backdate(engine, willing.id, unwilling.id)
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    agent = mint(Role.AGENT, "agent-9")
    found = (
        await gql_data(anonymous, OFFERS, {"id": encode_id("Customer", willing.id)}, token=agent)
    )["customer"]
    held = {h["product"]["code"] for h in found["holdings"]["items"]}
    offers = found["nextBestProducts"]
    assert offers
    assert all(o["product"]["code"] not in held for o in offers)
    assert all(o["product"]["audience"] in ("PERSONAL", "ANY") for o in offers)
    shares = [Decimal(o["peerShare"]) for o in offers]
    assert shares == sorted(shares, reverse=True)
    assert all(0 < s <= 1 for s in shares)
    assert "personal customers in the" in offers[0]["reason"]
    declined = (
        await gql_data(anonymous, OFFERS, {"id": encode_id("Customer", unwilling.id)}, token=agent)
    )["customer"]
    assert declined["nextBestProducts"] == []
    own = (
        await gql_data(
            anonymous,
            OFFERS,
            {"id": encode_id("Customer", willing.id)},
            token=mint(Role.CUSTOMER, "me", cid=willing.id),
        )
    )["customer"]
    assert own["nextBestProducts"] is None


async def test_a_page_of_members_costs_the_same_statements_whatever_its_size(
    anonymous: httpx.AsyncClient, mint: Minter, statements: StatementCounter
) -> None:
    admin = mint(Role.ADMIN, "admin-pages")
    rule = {"clauses": [{"customerKinds": ["PERSONAL"]}]}
    saved = (await gql_data(anonymous, CREATE, {"name": "每页", "rule": rule}, token=admin))[
        "createSegment"
    ]
    query = """query M($id: ID!, $n: Int!) { segment(id: $id) {
      members(first: $n) { nodes { customer { ... on Customer { id } } } } } }"""
    counts = []
    for size in (2, 20):
        with statements.capture() as sent:
            page = await gql_data(anonymous, query, {"id": saved["id"], "n": size}, token=admin)
        assert len(page["segment"]["members"]["nodes"]) == size
        counts.append(len(sent))
    assert counts[0] == counts[1]  # one batch of customers per page, not one read each


async def test_money_flow_clauses_select_by_net_inflow_and_largest_movement(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    """Issue 23: segments on money flows. Members are listed to the customer's own RM (the
    clause reads movement amounts, which other staff do not see): admins get counts only."""
    made = await make_customer(engine, complete=True)  # an RM of its own
    async with engine.connect() as conn:
        holding = await conn.scalar(
            text("SELECT min(id) FROM holdings WHERE customer_id = :c"), {"c": made.id}
        )
    core = mint(Role.INTEGRATION, "core-flows")
    booked = datetime.now(UTC) - timedelta(days=1)
    for n, (amount, direction) in enumerate(
        (("50000.00", "CREDIT"), ("20000.00", "CREDIT"), ("4999.99", "DEBIT"))
    ):
        moved = await gql_data(
            anonymous,
            """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
            __typename } }""",
            {
                "input": {
                    "holdingId": encode_id("Holding", holding),
                    "amount": amount,
                    "currency": "CNY",
                    "direction": direction,
                    "counterpartyKind": "COMPANY",
                    "channel": "WEB_BANKING",
                    "bookedAt": (booked + timedelta(minutes=n)).isoformat(),
                    "externalRef": f"flows-{made.id}-{n}",
                }
            },
            token=core,
        )
        assert moved["recordFundMovement"]["__typename"] == "RecordFundMovementPayload"
    rule = {
        "clauses": [
            {"netInflow": {"withinDays": 30, "minimum": "65000.00", "maximum": "65000.01"}},
            {"largestMovement": {"withinDays": 30, "minimum": "50000", "maximum": "50000"}},
        ]
    }
    admin = mint(Role.ADMIN, "admin-flows")
    saved = (
        await gql_data(anonymous, CREATE, {"name": f"资金流入{made.id}", "rule": rule}, token=admin)
    )["createSegment"]
    assert saved["__typename"] == "Segment", saved
    assert saved["conditions"] == [
        "net inflow between 65000.00 and 65000.01 CNY in the last 30 days",
        "largest movement between 50000 and 50000 CNY in the last 30 days",
    ]
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm-flows", rm=made.rm_id)
    listed = (await gql_data(anonymous, MEMBERS, {"id": saved["id"]}, token=rm))["segment"]
    (member,) = listed["members"]["nodes"]
    assert member["customer"]["id"] == encode_id("Customer", made.id)
    assert [r["value"] for r in member["reasons"]] == ["65000.01", "50000.00"]
    refused = await gql(anonymous, MEMBERS, {"id": saved["id"]}, token=admin)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A shorter window leaves the first credit out: its net inflow is no longer 65,000.01.
    stale = {
        "clauses": [{"netInflow": {"withinDays": 1, "minimum": "65000.00", "maximum": "65000.01"}}]
    }
    preview = await gql_data(anonymous, PREVIEW, {"rule": stale}, token=admin)
    assert preview["segmentPreview"]["count"] == 0
    bad = {"clauses": [{"largestMovement": {"withinDays": 0, "minimum": "1"}}]}
    invalid = await gql_data(anonymous, CREATE, {"name": "坏", "rule": bad}, token=admin)
    assert invalid["createSegment"]["field"] == "rule.clauses[0].withinDays"
