"""Management reports: the RM league table and satisfaction, each figure recomputed here from
the rows, with the role matrix."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import backdate, make_customer
from tests.graphql import gql, gql_data

RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on Error { code message } } }"""

LEAGUE = """query ($after: String, $branch: ID) {
  rmLeagueTable(period: "2026-11", first: 50, after: $after, branchId: $branch) {
    edges { cursor node { rank customers contribution revenue fees depositsCny loansCny visits
      overdueTasks relationshipManager { id } } }
    pageInfo { hasNextPage endCursor } } }"""

SATISFACTION = """query ($since: DateTime!, $until: DateTime!, $by: SatisfactionGrouping!,
  $branch: ID) {
  satisfactionReport(since: $since, until: $until, by: $by, branchId: $branch) {
    staffCode channel branch { id } interactions rated average satisfied dissatisfied } }"""


async def _record(client: httpx.AsyncClient, token: str, customer_id: int, **fields: Any) -> None:
    answer = await gql_data(
        client,
        RECORD,
        {"input": {"customerId": encode_id("Customer", customer_id), "kind": "INQUIRY", **fields}},
        token=token,
    )
    assert answer["recordInteraction"]["__typename"] == "RecordInteractionPayload", answer


async def _league(client: httpx.AsyncClient, token: str, **variables: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql_data(client, LEAGUE, {**variables, "after": after}, token=token))[
            "rmLeagueTable"
        ]
        rows += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


async def test_the_league_table_ranks_rms_by_contribution_with_their_book_and_work(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)  # an RM of its own, only this customer
    assert made.rm_id is not None
    agent = mint(Role.AGENT, "agent-league")
    # Two visits in November, one in October (not counted).
    for occurred in ("2026-11-03T10:00:00+08:00", "2026-11-20T10:00:00+08:00", "2026-10-20"):
        stamp = occurred if "T" in occurred else f"{occurred}T10:00:00+08:00"
        await _record(anonymous, agent, made.id, channel="RM_VISIT", occurredAt=stamp)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tasks (customer_id, kind, status, title, owner_kind, owner_ref, "
                "due_at, created_by) VALUES (:c, 'follow_up', 'open', '回访', 'rm', :rm, "
                "now() - interval '1 day', 'test'), (:c, 'follow_up', 'open', '回访', 'rm', "
                ":rm, now() + interval '1 day', 'test')"
            ),
            {"c": made.id, "rm": str(made.rm_id)},
        )
    await backdate(engine, made.id)  # a customer in November, so the month scores them
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    rows = await _league(anonymous, mint(Role.ANALYST, "analyst-league"))
    # Ranked by contribution; ties share a rank; every active RM is listed once.
    contributions = [Decimal(r["contribution"]) for r in rows]
    assert contributions == sorted(contributions, reverse=True)
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    ids = [r["relationshipManager"]["id"] for r in rows]
    assert len(ids) == len(set(ids))
    async with engine.connect() as conn:
        active = await conn.scalar(text("SELECT count(*) FROM relationship_managers WHERE active"))
        value = (
            await conn.execute(
                text(
                    "SELECT contribution, margin_revenue + fee_revenue AS revenue, fee_revenue "
                    "FROM customer_values WHERE customer_id = :c AND period = '2026-11-01'"
                ),
                {"c": made.id},
            )
        ).one()
        deposits = await conn.scalar(
            text(
                "SELECT coalesce(sum(h.balance), 0) FROM holdings h JOIN products p "
                "ON p.id = h.product_id WHERE h.customer_id = :c AND h.currency = 'CNY' "
                "AND h.status <> 'closed' AND p.category IN ('deposit', 'time_deposit')"
            ),
            {"c": made.id},
        )
    assert len(rows) == active
    (mine,) = [
        r
        for r in rows
        if r["relationshipManager"]["id"] == encode_id("RelationshipManager", made.rm_id)
    ]
    assert mine["customers"] == 1
    assert Decimal(mine["contribution"]) == value.contribution
    assert Decimal(mine["revenue"]) == value.revenue
    assert Decimal(mine["fees"]) == value.fee_revenue
    assert Decimal(mine["depositsCny"]) == deposits
    assert (mine["visits"], mine["overdueTasks"]) == (2, 1)
    higher = sum(1 for c in contributions if c > value.contribution)
    assert mine["rank"] == higher + 1


async def test_satisfaction_is_grouped_by_staff_channel_and_branch(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-satisfaction")
    async with engine.connect() as conn:
        branch = await conn.scalar(text("SELECT min(id) FROM branches WHERE kind = 'sub_branch'"))
    # A window of its own, in the past, so other tests' interactions do not fall into it.
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for n, rating in enumerate((5, 4, 1, None)):
        await _record(
            anonymous,
            agent,
            made.id,
            channel="COUNTER",
            occurredAt=(start + timedelta(hours=n)).isoformat(),
            staffCode="SAT-0001",
            branchId=encode_id("Branch", branch),
            satisfaction=rating,
        )
    window = {
        "since": start.isoformat(),
        "until": (start + timedelta(days=1)).isoformat(),
    }
    analyst = mint(Role.ANALYST, "analyst-satisfaction")
    by_staff = (await gql_data(anonymous, SATISFACTION, {**window, "by": "STAFF"}, token=analyst))[
        "satisfactionReport"
    ]
    (line,) = [r for r in by_staff if r["staffCode"] == "SAT-0001"]
    assert line | {"branch": None} == {
        "staffCode": "SAT-0001",
        "channel": None,
        "branch": None,
        "interactions": 4,
        "rated": 3,
        "average": "3.33",
        "satisfied": 2,
        "dissatisfied": 1,
    }
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT channel, count(*) AS n FROM interactions WHERE occurred_at >= :s "
                "AND occurred_at < :u GROUP BY channel"
            ),
            {"s": start, "u": start + timedelta(days=1)},
        )
        counts = {r.channel: r.n for r in rows}
    by_channel = (
        await gql_data(anonymous, SATISFACTION, {**window, "by": "CHANNEL"}, token=analyst)
    )["satisfactionReport"]
    assert {r["channel"].lower(): r["interactions"] for r in by_channel} == counts
    by_branch = (
        await gql_data(anonymous, SATISFACTION, {**window, "by": "BRANCH"}, token=analyst)
    )["satisfactionReport"]
    assert {"id": encode_id("Branch", branch)} in [r["branch"] for r in by_branch]
    refused = await gql(
        anonymous,
        SATISFACTION,
        {"since": window["until"], "until": window["since"], "by": "STAFF"},
        token=analyst,
    )
    assert refused["errors"][0]["extensions"]["field"] == "until"


@pytest.mark.parametrize("query", ["league", "satisfaction"])
async def test_reports_are_management_s_and_a_branch_manager_sees_only_their_branch(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, query: str
) -> None:
    async with engine.connect() as conn:
        own, code, other = (
            await conn.execute(
                text(
                    "SELECT b.id, b.code, (SELECT min(id) FROM branches o WHERE o.id <> b.id) "
                    "FROM branches b ORDER BY b.id LIMIT 1"
                )
            )
        ).one()
    text_ = LEAGUE if query == "league" else SATISFACTION
    base: dict[str, Any] = (
        {}
        if query == "league"
        else {
            "since": "2026-11-01T00:00:00+08:00",
            "until": "2026-12-01T00:00:00+08:00",
            "by": "CHANNEL",
        }
    )
    for role in (Role.RELATIONSHIP_MANAGER, Role.AGENT, Role.TELLER, Role.CUSTOMER):
        refused = await gql(anonymous, text_, base, token=mint(role, "x", rm=1, cid=1))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    manager = mint(Role.BRANCH_MANAGER, "branch-head-reports", branch=code)
    theirs = await gql(anonymous, text_, base, token=manager)
    assert "errors" not in theirs, theirs
    elsewhere = await gql(
        anonymous, text_, {**base, "branch": encode_id("Branch", other)}, token=manager
    )
    assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert own is not None


STRUCTURE = """query ($from: String!, $to: String!) {
  customerStructure(from: $from, to: $to) {
    period customers tiers { tier customers } comparedTo newCustomers lostCustomers
    migration { fromTier toTier customers } } }"""


async def test_the_customer_structure_month_by_month_matches_the_scores(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    store = SqlValueStore(engine)
    await store.score(date(2026, 10, 1), Decimal("0.2"))
    await store.score(date(2026, 11, 1), Decimal("0.2"))
    analyst = mint(Role.ANALYST, "analyst-structure")
    months = (
        await gql_data(anonymous, STRUCTURE, {"from": "2026-10", "to": "2026-11"}, token=analyst)
    )["customerStructure"]
    assert [m["period"] for m in months] == ["2026-10", "2026-11"]
    async with engine.connect() as conn:
        for month in months:
            period = date.fromisoformat(f"{month['period']}-01")
            counts = {
                r.tier: r.n
                for r in await conn.execute(
                    text(
                        "SELECT tier, count(*) AS n FROM customer_values WHERE period = :p "
                        "GROUP BY tier"
                    ),
                    {"p": period},
                )
            }
            assert {
                t["tier"].lower(): t["customers"] for t in month["tiers"] if t["customers"]
            } == (counts)
            assert month["customers"] == sum(counts.values())
        november = months[1]
        assert november["comparedTo"] == "2026-10"
        flow = (
            await conn.execute(
                text(
                    "SELECT "
                    "(SELECT count(*) FROM customer_values n WHERE n.period = '2026-11-01' AND "
                    " NOT EXISTS (SELECT 1 FROM customer_values o WHERE o.period = '2026-10-01' "
                    " AND o.customer_id = n.customer_id)) AS new, "
                    "(SELECT count(*) FROM customer_values o WHERE o.period = '2026-10-01' AND "
                    " NOT EXISTS (SELECT 1 FROM customer_values n WHERE n.period = '2026-11-01' "
                    " AND n.customer_id = o.customer_id)) AS lost"
                )
            )
        ).one()
        moves = {
            (r.from_tier, r.to_tier): r.n
            for r in await conn.execute(
                text(
                    "SELECT o.tier AS from_tier, n.tier AS to_tier, count(*) AS n FROM customer_values n "
                    "JOIN customer_values o ON o.customer_id = n.customer_id "
                    "AND o.period = '2026-10-01' WHERE n.period = '2026-11-01' "
                    "AND o.tier <> n.tier GROUP BY 1, 2"
                )
            )
        }
    assert (november["newCustomers"], november["lostCustomers"]) == (flow.new, flow.lost)
    assert {
        (m["fromTier"].lower(), m["toTier"].lower()): m["customers"] for m in november["migration"]
    } == moves
    for variables, field in (
        ({"from": "2026-11", "to": "2026-10"}, "to"),
        ({"from": "2020-01", "to": "2026-11"}, "to"),
        ({"from": "Nov", "to": "2026-11"}, "from"),
    ):
        bad = await gql(anonymous, STRUCTURE, variables, token=analyst)
        assert bad["errors"][0]["extensions"]["field"] == field, variables
