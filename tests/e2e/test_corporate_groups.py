"""corporateGroups: a parent company with every subsidiary below it, the totals recomputed
here from the holdings, scoped by role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql, gql_data

GROUPS = """query ($after: String) { corporateGroups(first: 50, after: $after) {
  edges { cursor node { memberCount parent { id } members { id }
    totals { currency deposits loans exposure } } }
  pageInfo { hasNextPage endCursor } } }"""


async def _all(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql_data(client, GROUPS, {"after": after}, token=token))["corporateGroups"]
        groups += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return groups
        after = page["pageInfo"]["endCursor"]


async def test_a_group_rolls_up_every_company_below_its_parent(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    parent, child, other_child, grandchild = [
        await make_customer(engine, name=f"集团成员{n}") for n in range(4)
    ]
    ids = [parent.id, child.id, other_child.id, grandchild.id]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE customers SET kind = 'corporate', gender = NULL, birth_date = NULL "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        for member, above in ((child, parent), (other_child, parent), (grandchild, child)):
            await conn.execute(
                text("UPDATE customers SET parent_id = :p WHERE id = :c"),
                {"p": above.id, "c": member.id},
            )
        # A credit line above its balance on the grandchild: exposure counts the line.
        loan = await conn.scalar(text("SELECT min(id) FROM products WHERE category = 'loan'"))
        await conn.execute(
            text(
                "UPDATE holdings SET product_id = :p, balance = 300.00, credit_limit = 5000.00 "
                "WHERE id = (SELECT min(id) FROM holdings WHERE customer_id = :c)"
            ),
            {"p": loan, "c": grandchild.id},
        )
        expected = (
            await conn.execute(
                text(
                    "SELECT h.currency, "
                    "coalesce(sum(h.balance) FILTER (WHERE p.category IN "
                    "('deposit', 'time_deposit')), 0) AS deposits, "
                    "coalesce(sum(h.balance) FILTER (WHERE p.category IN "
                    "('loan', 'credit_card')), 0) AS loans, "
                    "coalesce(sum(greatest(h.balance, coalesce(h.credit_limit, 0))) FILTER "
                    "(WHERE p.category IN ('loan', 'credit_card')), 0) AS exposure "
                    "FROM holdings h JOIN products p ON p.id = h.product_id "
                    "WHERE h.customer_id = ANY(:ids) AND h.status <> 'closed' "
                    "GROUP BY h.currency ORDER BY h.currency"
                ),
                {"ids": ids},
            )
        ).all()
    groups = await _all(anonymous, mint(Role.APPROVER, "approver-groups"))
    (group,) = [
        g for g in groups if g["parent"] and g["parent"]["id"] == encode_id("Customer", parent.id)
    ]
    assert group["memberCount"] == 4
    assert [m["id"] for m in group["members"]] == [encode_id("Customer", i) for i in ids]
    assert [
        (t["currency"], Decimal(t["deposits"]), Decimal(t["loans"]), Decimal(t["exposure"]))
        for t in group["totals"]
    ] == [(r.currency, r.deposits, r.loans, r.exposure) for r in expected]
    assert Decimal(group["totals"][0]["exposure"]) >= Decimal("5000.00")
    # A subsidiary is never a group of its own; each parent is listed once.
    parents = [g["parent"]["id"] for g in groups if g["parent"]]
    assert encode_id("Customer", child.id) not in parents
    assert len(parents) == len(set(parents))

    # An RM lists the groups whose parent is in their book: the factories' customers are
    # RM 1's, another RM sees none of these.
    mine = await _all(anonymous, mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1))
    assert encode_id("Customer", parent.id) in [g["parent"]["id"] for g in mine if g["parent"]]
    theirs = await _all(anonymous, mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2))
    assert encode_id("Customer", parent.id) not in [
        g["parent"]["id"] for g in theirs if g["parent"]
    ]
    for role in (Role.AGENT, Role.TELLER, Role.ANALYST, Role.CUSTOMER):
        refused = await gql(anonymous, GROUPS, {"after": None}, token=mint(role, "x", cid=1))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
