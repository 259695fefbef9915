"""RM assignment, portfolios and branch ownership over GraphQL, against the real database."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import backdate, make_customer
from tests.graphql import gql, gql_data

_numbers = itertools.count(1)


async def _rm(engine: AsyncEngine, grade: int, *, active: bool = True) -> int:
    async with engine.begin() as conn:
        branch = await conn.scalar(text("SELECT min(id) FROM branches WHERE kind = 'sub_branch'"))
        rm_id: int = await conn.scalar(
            text(
                "INSERT INTO relationship_managers (employee_no, name, grade, branch_id, active) "
                "VALUES (:no, :name, :grade, :branch, :active) RETURNING id"
            ),
            {
                "no": f"T{next(_numbers):05d}{grade}",
                "name": "测试经理",
                "grade": grade,
                "branch": branch,
                "active": active,
            },
        )
        return rm_id


async def _set(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def _high_value(engine: AsyncEngine, customer_id: int) -> None:
    """Give the customer a fortune and score the month: they are high value for real."""
    await backdate(engine, customer_id)
    await _set(
        engine,
        "UPDATE holdings SET balance = 900000000 WHERE customer_id = :c",
        c=customer_id,
    )
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))


def rid(pk: int) -> str:
    return encode_id("RelationshipManager", pk)


def cid(pk: int) -> str:
    return encode_id("Customer", pk)


ASSIGN = """
mutation A($c: ID!, $rm: ID!, $why: String!) {
  assignRelationshipManager(customerId: $c, relationshipManagerId: $rm, reason: $why) {
    __typename
    ... on AssignRelationshipManagerPayload {
      changed
      assignment { reason fromRelationshipManager { id } toRelationshipManager { id } }
    }
    ... on Error { code message }
  }
}
"""

HISTORY = """
query H($c: ID!) {
  customer(id: $c) {
    ... on Customer {
      relationshipManager { id }
      relationshipManagerHistory {
        fromRelationshipManager { id } toRelationshipManager { id } actor reason
      }
    }
  }
}
"""


async def test_assigning_an_rm_records_the_move_and_respects_grade_and_status(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-7")
    made = await make_customer(engine)
    senior, junior, gone = (
        await _rm(engine, 4),
        await _rm(engine, 1),
        await _rm(engine, 4, active=False),
    )
    before = (await gql_data(anonymous, HISTORY, {"c": cid(made.id)}, token=admin))["customer"]
    first_rm = before["relationshipManager"]["id"]

    moved = (
        await gql_data(
            anonymous,
            ASSIGN,
            {"c": cid(made.id), "rm": rid(senior), "why": "new branch"},
            token=admin,
        )
    )["assignRelationshipManager"]
    assert moved["changed"] is True
    assert moved["assignment"]["fromRelationshipManager"]["id"] == first_rm
    assert moved["assignment"]["toRelationshipManager"]["id"] == rid(senior)
    again = (
        await gql_data(
            anonymous, ASSIGN, {"c": cid(made.id), "rm": rid(senior), "why": "again"}, token=admin
        )
    )["assignRelationshipManager"]
    assert again == {
        "__typename": "AssignRelationshipManagerPayload",
        "changed": False,
        "assignment": None,
    }
    after = (await gql_data(anonymous, HISTORY, {"c": cid(made.id)}, token=admin))["customer"]
    assert after["relationshipManager"]["id"] == rid(senior)
    assert after["relationshipManagerHistory"] == [
        {
            "fromRelationshipManager": {"id": first_rm},
            "toRelationshipManager": {"id": rid(senior)},
            "actor": "admin-7",
            "reason": "new branch",
        }
    ]

    await _high_value(engine, made.id)
    for rm, code in ((junior, "RM_GRADE_TOO_LOW"), (gone, "RM_INACTIVE")):
        refused = (
            await gql_data(
                anonymous, ASSIGN, {"c": cid(made.id), "rm": rid(rm), "why": "try"}, token=admin
            )
        )["assignRelationshipManager"]
        assert (refused["__typename"], refused["code"]) == ("RuleViolationError", code)
    for wrong, typename in (
        ({"c": cid(made.id), "rm": rid(senior), "why": "  "}, "InvalidInputError"),
        ({"c": cid(99_999_999), "rm": rid(senior), "why": "x"}, "NotFoundError"),
        ({"c": cid(made.id), "rm": rid(99_999_999), "why": "x"}, "NotFoundError"),
    ):
        answer = (await gql_data(anonymous, ASSIGN, wrong, token=admin))[
            "assignRelationshipManager"
        ]
        assert answer["__typename"] == typename, wrong
    rm_token = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    denied = (
        await gql_data(
            anonymous, ASSIGN, {"c": cid(made.id), "rm": rid(senior), "why": "x"}, token=rm_token
        )
    )["assignRelationshipManager"]
    assert denied["__typename"] == "ForbiddenError"

    # Once the data says they are high value, a junior RM is a listed violation.
    await _set(
        engine,
        "UPDATE customers SET relationship_manager_id = :rm WHERE id = :c",
        rm=junior,
        c=made.id,
    )
    listed = await _violations(anonymous, admin)
    assert (cid(made.id), "GRADE_TOO_LOW", "HIGH", "JUNIOR") in listed
    await _set(
        engine,
        "UPDATE customers SET relationship_manager_id = :rm WHERE id = :c",
        rm=gone,
        c=made.id,
    )
    assert (cid(made.id), "RM_INACTIVE", "HIGH", "PRINCIPAL") in await _violations(anonymous, admin)
    await _set(
        engine,
        "UPDATE customers SET relationship_manager_id = :rm WHERE id = :c",
        rm=senior,
        c=made.id,
    )
    assert cid(made.id) not in {v[0] for v in await _violations(anonymous, admin)}


VIOLATIONS = """
query V($after: String) {
  assignmentViolations(first: 2, after: $after) {
    nodes { kind tier rmGrade requiredGrade customer { ... on Customer { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _violations(client: httpx.AsyncClient, token: str) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    after = None
    while True:  # pages of two: the cursor carries on where the last page ended
        page = (await gql_data(client, VIOLATIONS, {"after": after}, token=token))[
            "assignmentViolations"
        ]
        found += [(n["customer"]["id"], n["kind"], n["tier"], n["rmGrade"]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_concurrent_assignments_leave_one_rm_and_an_unbroken_history(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-8")
    made = await make_customer(engine)
    rms = [await _rm(engine, 4) for _ in range(4)]
    answers = await asyncio.gather(
        *(
            gql_data(
                anonymous,
                ASSIGN,
                {"c": cid(made.id), "rm": rid(rms[i % 4]), "why": f"race {i}"},
                token=admin,
            )
            for i in range(12)
        )
    )
    changed = sum(a["assignRelationshipManager"]["changed"] for a in answers)
    async with engine.connect() as conn:
        owner = await conn.scalar(
            text("SELECT relationship_manager_id FROM customers WHERE id = :c"), {"c": made.id}
        )
        history = (
            await conn.execute(
                text(
                    "SELECT from_rm_id, to_rm_id FROM rm_assignments WHERE customer_id = :c "
                    "ORDER BY id"
                ),
                {"c": made.id},
            )
        ).all()
    assert changed == len(history) >= 1
    # Each move starts from where the one before ended: no assignment was lost or doubled.
    for before, after in itertools.pairwise(history):
        assert after.from_rm_id == before.to_rm_id
    assert history[-1].to_rm_id == owner


REASSIGN = """
mutation R($from: ID!, $to: ID!, $customers: [ID!]) {
  reassignPortfolio(fromRm: $from, toRm: $to, reason: "retired", customers: $customers) {
    __typename
    ... on PortfolioReassignment { moved remaining }
    ... on Error { code message }
  }
}
"""

PORTFOLIO = """
query P($rm: ID!, $after: String) {
  relationshipManager(id: $rm) {
    id grade
    portfolio {
      customerCount period contribution openTasks openAlerts
      totals { currency deposits }
      tierMix { tier customers }
      customers(first: 2, after: $after) {
        nodes { ... on Customer { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


async def test_a_leaving_rms_portfolio_moves_whole_and_leaves_no_orphan(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-9")
    leaver, successor, junior = await _rm(engine, 4), await _rm(engine, 3), await _rm(engine, 1)
    book = [await make_customer(engine) for _ in range(3)]
    ids = [c.id for c in book]
    await _set(
        engine,
        "UPDATE customers SET relationship_manager_id = :rm WHERE id = ANY(:ids)",
        rm=leaver,
        ids=ids,
    )
    await _set(
        engine,
        "INSERT INTO tasks (customer_id, kind, status, title, owner_kind, owner_ref, due_at, "
        "created_by) VALUES (:c, 'follow_up', 'open', 'call back', 'rm', :rm, now(), 'test')",
        c=ids[0],
        rm=str(leaver),
    )
    await _high_value(engine, ids[0])

    # Everyone or no one: a junior successor cannot take the high-value customer.
    refused = (
        await gql_data(anonymous, REASSIGN, {"from": rid(leaver), "to": rid(junior)}, token=admin)
    )["reassignPortfolio"]
    assert (refused["__typename"], refused["code"]) == ("RuleViolationError", "RM_GRADE_TOO_LOW")
    # Some of them: the named customers only (and only from this portfolio).
    stranger = await make_customer(engine)
    wrong = (
        await gql_data(
            anonymous,
            REASSIGN,
            {"from": rid(leaver), "to": rid(successor), "customers": [cid(stranger.id)]},
            token=admin,
        )
    )["reassignPortfolio"]
    assert wrong["__typename"] == "InvalidInputError"
    partial = (
        await gql_data(
            anonymous,
            REASSIGN,
            {"from": rid(leaver), "to": rid(junior), "customers": [cid(ids[2])]},
            token=admin,
        )
    )["reassignPortfolio"]
    assert partial == {"__typename": "PortfolioReassignment", "moved": 1, "remaining": 2}

    done = (
        await gql_data(
            anonymous, REASSIGN, {"from": rid(leaver), "to": rid(successor)}, token=admin
        )
    )["reassignPortfolio"]
    assert done == {"__typename": "PortfolioReassignment", "moved": 2, "remaining": 0}
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, relationship_manager_id FROM customers WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
        owners: dict[int, int] = {r.id: r.relationship_manager_id for r in rows}
        moves = await conn.scalar(
            text("SELECT count(*) FROM rm_assignments WHERE customer_id = ANY(:ids)"), {"ids": ids}
        )
        task_owner = await conn.scalar(
            text("SELECT owner_ref FROM tasks WHERE customer_id = :c AND title = 'call back'"),
            {"c": ids[0]},
        )
        orphans = await conn.scalar(
            text("SELECT count(*) FROM customers WHERE relationship_manager_id = :rm"),
            {"rm": leaver},
        )
    assert owners == {ids[0]: successor, ids[1]: successor, ids[2]: junior}
    assert (moves, task_owner, orphans) == (3, str(successor), 0)

    # The successor's portfolio: two customers, one open task, paged two at a time.
    mine = mint(Role.RELATIONSHIP_MANAGER, "succ", rm=successor)
    rm_view = (await gql_data(anonymous, PORTFOLIO, {"rm": rid(successor)}, token=mine))[
        "relationshipManager"
    ]
    portfolio = rm_view["portfolio"]
    assert portfolio["customerCount"] == 2
    assert portfolio["openTasks"] >= 1
    assert portfolio["period"] == "2026-11"
    assert sum(t["customers"] for t in portfolio["tierMix"]) <= 2
    assert {n["id"] for n in portfolio["customers"]["nodes"]} == {cid(ids[0]), cid(ids[1])}
    assert portfolio["customers"]["pageInfo"]["hasNextPage"] is False
    assert Decimal(portfolio["totals"][0]["deposits"]) >= 0
    # Another RM, or an agent: refused with FORBIDDEN at the field (issue 23: it was a silent
    # null, which a desk could take for an empty book).
    for other in (mint(Role.RELATIONSHIP_MANAGER, "x", rm=leaver), mint(Role.AGENT, "ag")):
        hidden = await gql(anonymous, PORTFOLIO, {"rm": rid(successor)}, token=other)
        assert hidden["data"]["relationshipManager"]["portfolio"] is None
        [refusal] = hidden["errors"]
        assert refusal["extensions"]["code"] == "FORBIDDEN"
        assert refusal["path"] == ["relationshipManager", "portfolio"]


CLAIM = """
mutation C($c: ID!, $b: ID!) {
  claimCustomerOwnership(customerId: $c, branchId: $b, note: "we opened the account") {
    __typename
    ... on OwnershipClaim { id status branch { id } }
    ... on Error { code }
  }
}
"""

CONFLICTS = """
{ ownershipConflicts(first: 50) {
    nodes { customer { ... on Customer { id } } homeBranch { id } claims { status branch { id } } }
} }
"""

RESOLVE = """
mutation R($c: ID!, $b: ID!) {
  resolveOwnershipConflict(customerId: $c, branchId: $b) {
    __typename
    ... on OwnershipResolution { decided { status branch { id } } homeBranch { id } }
    ... on Error { code }
  }
}
"""


async def test_competing_branch_claims_are_visible_and_resolved(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    async with engine.connect() as conn:
        home = await conn.scalar(
            text("SELECT home_branch_id FROM customers WHERE id = :c"), {"c": made.id}
        )
        others = (
            await conn.scalars(
                text("SELECT id FROM branches WHERE id <> :h ORDER BY id LIMIT 2"), {"h": home}
            )
        ).all()
    b = [encode_id("Branch", x) for x in (home, *others)]
    approver = mint(Role.APPROVER, "boss")
    first = (await gql_data(anonymous, CLAIM, {"c": cid(made.id), "b": b[1]}, token=approver))[
        "claimCustomerOwnership"
    ]
    assert (first["__typename"], first["status"]) == ("OwnershipClaim", "OPEN")
    second = await gql_data(anonymous, CLAIM, {"c": cid(made.id), "b": b[2]}, token=approver)
    assert second["claimCustomerOwnership"]["status"] == "OPEN"
    for branch, code in ((b[1], "CLAIM_EXISTS"), (b[0], "ALREADY_OWNER")):
        refused = (
            await gql_data(anonymous, CLAIM, {"c": cid(made.id), "b": branch}, token=approver)
        )["claimCustomerOwnership"]
        assert refused["code"] == code
    # An RM claims for their own branch only.
    rm_elsewhere = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    async with engine.connect() as conn:
        rm_branch = await conn.scalar(
            text("SELECT branch_id FROM relationship_managers WHERE id = 1")
        )
    foreign = next(x for x in b if x != encode_id("Branch", rm_branch))
    denied = await gql_data(anonymous, CLAIM, {"c": cid(made.id), "b": foreign}, token=rm_elsewhere)
    assert denied["claimCustomerOwnership"]["__typename"] == "ForbiddenError"

    listed = (await gql_data(anonymous, CONFLICTS, token=approver))["ownershipConflicts"]["nodes"]
    mine = [n for n in listed if n["customer"]["id"] == cid(made.id)]
    assert len(mine) == 1
    assert mine[0]["homeBranch"]["id"] == b[0]
    assert sorted(c["branch"]["id"] for c in mine[0]["claims"]) == sorted(b[1:3])

    resolved = (await gql_data(anonymous, RESOLVE, {"c": cid(made.id), "b": b[2]}, token=approver))[
        "resolveOwnershipConflict"
    ]
    assert resolved["homeBranch"]["id"] == b[2]
    assert sorted((d["branch"]["id"], d["status"]) for d in resolved["decided"]) == sorted(
        [(b[1], "REJECTED"), (b[2], "GRANTED")]
    )
    listed = (await gql_data(anonymous, CONFLICTS, token=approver))["ownershipConflicts"]["nodes"]
    assert cid(made.id) not in {n["customer"]["id"] for n in listed}


TEAM = """
mutation T($c: ID!, $members: [TeamMemberInput!]!) {
  setRelationshipTeam(customerId: $c, members: $members) {
    __typename
    ... on RelationshipTeam { members { role relationshipManager { id } } }
    ... on InvalidInputError { field }
    ... on Error { code }
  }
}
"""


async def test_a_key_customer_gets_an_rm_team(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-10")
    made = await make_customer(engine)
    a, b = await _rm(engine, 3), await _rm(engine, 2)
    members = [
        {"relationshipManagerId": rid(a), "role": "credit specialist"},
        {"relationshipManagerId": rid(b), "role": "wealth"},
    ]
    team = (await gql_data(anonymous, TEAM, {"c": cid(made.id), "members": members}, token=admin))[
        "setRelationshipTeam"
    ]
    assert [m["role"] for m in team["members"]] == ["credit specialist", "wealth"]
    shown = await gql_data(
        anonymous,
        "query Q($c: ID!) { customer(id: $c) { ... on Customer { relationshipTeam { role } } } }",
        {"c": cid(made.id)},
        token=admin,
    )
    assert sorted(m["role"] for m in shown["customer"]["relationshipTeam"]) == [
        "credit specialist",
        "wealth",
    ]
    primary = [{"relationshipManagerId": rid(1), "role": "x"}]
    refused = (
        await gql_data(anonymous, TEAM, {"c": cid(made.id), "members": primary}, token=admin)
    )["setRelationshipTeam"]
    assert refused == {
        "__typename": "InvalidInputError",
        "field": "members[0].relationshipManagerId",
        "code": "INVALID_INPUT",
    }
