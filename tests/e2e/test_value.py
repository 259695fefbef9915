"""Customer value over GraphQL: who sees it, what it says, and the rate book."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.e2e.test_detection import make_worker
from tests.factories import backdate, make_customer
from tests.graphql import gql, gql_data

VALUE = """
query Value($id: ID!, $period: String) {
  customer(id: $id) {
    ... on Customer { value(period: $period) {
      period revenue cost contribution marginRevenue feeRevenue interactionCost servicingCost
      tier trend
      reasons { rule message }
      products { product { code } holdings averageBalance marginRate marginRevenue servicingCost }
      channels { channel interactions defaulted unitCost cost }
    } }
  }
}
"""


async def test_the_rm_reads_contribution_with_reasons_and_lines(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=5, holdings=3)
    await backdate(engine, made.id)
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    gid = encode_id("Customer", made.id)
    value = (await gql_data(client, VALUE, {"id": gid, "period": "2026-11"}))["customer"]["value"]
    assert value["period"] == "2026-11"
    revenue, cost = Decimal(value["revenue"]), Decimal(value["cost"])
    assert Decimal(value["contribution"]) == revenue - cost
    assert revenue == Decimal(value["marginRevenue"]) + Decimal(value["feeRevenue"])
    assert sum(Decimal(p["marginRevenue"]) for p in value["products"]) == Decimal(
        value["marginRevenue"]
    )
    assert sum(Decimal(c["cost"]) for c in value["channels"]) == Decimal(value["interactionCost"])
    assert sum(c["interactions"] for c in value["channels"]) == 5
    assert value["reasons"]
    assert value["reasons"][0]["message"]
    assert value["trend"] == "NEW"
    # Without a period: the latest scored month.
    latest = (await gql_data(client, VALUE, {"id": gid}))["customer"]["value"]
    assert latest["period"] == "2026-11"

    # Not their customer, not the agent's business, never the customer's own.
    for token in (
        mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2),
        mint(Role.AGENT, "agent-1"),
        mint(Role.CUSTOMER, f"c{made.id}", cid=made.id),
    ):
        other = await gql_data(anonymous, VALUE, {"id": gid, "period": "2026-11"}, token=token)
        assert other["customer"]["value"] is None
    approver = await gql_data(
        anonymous, VALUE, {"id": gid, "period": "2026-11"}, token=mint(Role.APPROVER, "ap")
    )
    assert approver["customer"]["value"]["contribution"] == value["contribution"]

    # A month never scored is null; a malformed one is a typed error.
    never = await gql_data(client, VALUE, {"id": gid, "period": "1999-01"})
    assert never["customer"]["value"] is None
    bad = await gql(client, VALUE, {"id": gid, "period": "2026-13"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


SET_RATE = """
mutation Set($input: ValueRateInput!) {
  setValueRate(input: $input) {
    __typename
    ... on ValueRates { channels { channel unitCost } categories { category marginRate } }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}
"""


async def test_an_admin_changes_a_rate_and_bad_changes_are_refused(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-1")
    try:
        changed = (
            await gql_data(
                anonymous,
                SET_RATE,
                {"input": {"channel": "COUNTER", "unitCost": "26.50"}},
                token=admin,
            )
        )["setValueRate"]
        assert {"channel": "COUNTER", "unitCost": "26.50"} in changed["channels"]
        for wrong, field in (
            ({"channel": "COUNTER", "category": "LOAN", "unitCost": "1"}, "input"),
            ({"channel": "COUNTER"}, "input.unitCost"),
            ({"category": "LOAN", "marginRate": "0.02"}, "input"),
            ({"category": "LOAN", "marginRate": "3", "servicingCost": "1"}, "input.marginRate"),
            ({"channel": "SMS", "unitCost": "-1"}, "input.unitCost"),
        ):
            refused = (await gql_data(anonymous, SET_RATE, {"input": wrong}, token=admin))[
                "setValueRate"
            ]
            assert refused["__typename"] == "InvalidInputError", wrong
            assert refused["field"] == field
        unknown = (
            await gql_data(
                anonymous,
                SET_RATE,
                {"input": {"productId": encode_id("Product", 999_999), "marginRate": "0.01"}},
                token=admin,
            )
        )["setValueRate"]
        assert unknown["__typename"] == "NotFoundError"
        forbidden = (
            await gql_data(
                anonymous,
                SET_RATE,
                {"input": {"channel": "COUNTER", "unitCost": "1.00"}},
                token=mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1),
            )
        )["setValueRate"]
        assert forbidden["__typename"] == "ForbiddenError"
    finally:
        # The seeded rate, pass or fail: contributions computed after this test use it.
        restored = (
            await gql_data(
                anonymous,
                SET_RATE,
                {"input": {"channel": "COUNTER", "unitCost": "25.00"}},
                token=admin,
            )
        )["setValueRate"]
    assert {"channel": "COUNTER", "unitCost": "25.00"} in restored["channels"]


REPORT = """
query R($period: String!, $branch: ID, $earlier: String) {
  valueReport(period: $period, branchId: $branch, comparedTo: $earlier) {
    period customers contribution comparedTo newCustomers departedCustomers
    pareto { topShare customers contribution shareOfTotal }
    tiers { tier customers contribution revenue cost }
    migration { fromTier toTier customers }
    negativeValueChannels { channel interactions cost share }
    suggestions { fromChannel toChannel monthlySaving message }
    branch { id }
  }
}
"""


async def test_analysts_read_the_value_report_and_it_matches_the_scores(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    store = SqlValueStore(engine)
    await store.score(date(2026, 10, 1), Decimal("0.2"))
    await store.score(date(2026, 11, 1), Decimal("0.2"))
    analyst = mint(Role.ANALYST, "analyst-1")
    report = (
        await gql_data(
            anonymous, REPORT, {"period": "2026-11", "earlier": "2026-10"}, token=analyst
        )
    )["valueReport"]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*) AS n, sum(contribution) AS total FROM customer_values "
                    "WHERE period = '2026-11-01'"
                )
            )
        ).one()
    assert (report["customers"], Decimal(report["contribution"])) == (row.n, row.total)
    assert sum(t["customers"] for t in report["tiers"]) == row.n
    assert sum(m["customers"] for m in report["migration"]) + report["newCustomers"] == row.n
    assert [p["topShare"] for p in report["pareto"]] == ["0.01", "0.05", "0.10", "0.20"]
    shares = [Decimal(p["contribution"]) for p in report["pareto"]]
    assert shares == sorted(shares)
    if report["negativeValueChannels"]:
        total_share = sum(
            (Decimal(c["share"]) for c in report["negativeValueChannels"]), Decimal(0)
        )
        assert abs(total_share - 1) < Decimal("0.001")

    denied = await gql(anonymous, REPORT, {"period": "2026-11"}, token=mint(Role.AGENT, "ag"))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    never = await gql_data(anonymous, REPORT, {"period": "1990-01"}, token=analyst)
    assert never["valueReport"] is None
    bad = await gql(anonymous, REPORT, {"period": "2026-11", "earlier": "Nov"}, token=analyst)
    assert bad["errors"][0]["extensions"]["field"] == "comparedTo"


SCOPED = """
query R($period: String!, $branch: ID, $rm: ID) {
  valueReport(period: $period, branchId: $branch, relationshipManagerId: $rm) {
    customers contribution branch { id } relationshipManager { id }
  }
}
"""


async def _figures(engine: AsyncEngine, where: str, **params: object) -> tuple[int, Decimal]:
    """Customers and contribution of November 2026 for the customers `where` picks."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*) AS n, coalesce(sum(v.contribution), 0) AS total "
                    "FROM customer_values v JOIN customers c ON c.id = v.customer_id "
                    f"WHERE v.period = '2026-11-01' AND {where}"
                ),
                params,
            )
        ).one()
    return row.n, row.total


async def test_an_rm_reads_their_portfolio_s_report_and_a_branch_manager_their_branch_s(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    rm1 = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    own = (await gql_data(anonymous, SCOPED, {"period": "2026-11"}, token=rm1))["valueReport"]
    expected = await _figures(engine, "c.relationship_manager_id = 1")
    assert expected[0] > 0
    assert (own["customers"], Decimal(own["contribution"])) == expected
    assert own["relationshipManager"] == {"id": encode_id("RelationshipManager", 1)}
    assert own["branch"] is None
    # The same report for an analyst who asks for RM 1's book.
    asked = {"period": "2026-11", "rm": encode_id("RelationshipManager", 1)}
    analyst = mint(Role.ANALYST, "analyst-scope")
    assert (await gql_data(anonymous, SCOPED, asked, token=analyst))["valueReport"] == own
    # Wider than their own is refused, never narrowed in silence.
    async with engine.connect() as conn:
        branch_id, code = (
            await conn.execute(
                text(
                    "SELECT b.id, b.code FROM branches b WHERE EXISTS (SELECT 1 FROM customers c "
                    "WHERE c.home_branch_id = b.id) ORDER BY b.id LIMIT 1"
                )
            )
        ).one()
        other_branch = await conn.scalar(
            text("SELECT min(id) FROM branches WHERE id <> :b"), {"b": branch_id}
        )
    branch = encode_id("Branch", branch_id)
    for variables in (
        {"period": "2026-11", "rm": encode_id("RelationshipManager", 2)},
        {"period": "2026-11", "branch": branch},
    ):
        refused = await gql(anonymous, SCOPED, variables, token=rm1)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", variables
    manager = mint(Role.BRANCH_MANAGER, "branch-head", branch=code)
    theirs = (await gql_data(anonymous, SCOPED, {"period": "2026-11"}, token=manager))[
        "valueReport"
    ]
    units = (
        "c.home_branch_id IN (WITH RECURSIVE u AS (SELECT id FROM branches WHERE id = :b "
        "UNION ALL SELECT b.id FROM branches b JOIN u ON b.parent_id = u.id) SELECT id FROM u)"
    )
    assert (theirs["customers"], Decimal(theirs["contribution"])) == await _figures(
        engine, units, b=branch_id
    )
    assert theirs["branch"] == {"id": branch}
    both = {"period": "2026-11", "rm": encode_id("RelationshipManager", 1)}
    narrowed = (await gql_data(anonymous, SCOPED, both, token=manager))["valueReport"]
    assert (narrowed["customers"], Decimal(narrowed["contribution"])) == await _figures(
        engine, units + " AND c.relationship_manager_id = 1", b=branch_id
    )
    elsewhere = {"period": "2026-11", "branch": encode_id("Branch", other_branch)}
    refused = await gql(anonymous, SCOPED, elsewhere, token=manager)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nowhere = await gql(
        anonymous, SCOPED, {"period": "2026-11"}, token=mint(Role.BRANCH_MANAGER, "no-branch")
    )
    assert nowhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename } }"""


async def test_the_worker_rescores_a_customer_when_an_interaction_arrives(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    redis_client: aioredis.Redis,
    mint: Minter,
) -> None:
    made = await make_customer(engine, holdings=1)
    await backdate(engine, made.id)
    gid = encode_id("Customer", made.id)
    async with httpx.AsyncClient() as http:
        worker = make_worker(settings, engine, redis_client, http, f"value-{made.id}")
        await worker.ensure_group()
        await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
        before = (await gql_data(client, VALUE, {"id": gid, "period": "2026-11"}))["customer"]
        recorded = await gql_data(
            anonymous,
            RECORD,
            {
                "input": {
                    "customerId": gid,
                    "channel": "COUNTER",
                    "kind": "INQUIRY",
                    "occurredAt": "2026-11-15T10:00:00+00:00",
                }
            },
            token=mint(Role.AGENT, "agent-3"),
        )
        assert recorded["recordInteraction"]["__typename"] == "RecordInteractionPayload"
        after = before
        for _ in range(50):  # the relay publishes within moments; the worker rescores
            await worker.process_once()
            after = (await gql_data(client, VALUE, {"id": gid, "period": "2026-11"}))["customer"]
            if after["value"]["contribution"] != before["value"]["contribution"]:
                break
    # One counter visit without a recorded cost: 25.00 CNY more cost, nothing else changed.
    assert Decimal(after["value"]["contribution"]) == Decimal(
        before["value"]["contribution"]
    ) - Decimal("25.00")
    assert Decimal(after["value"]["interactionCost"]) == Decimal(
        before["value"]["interactionCost"]
    ) + Decimal("25.00")
