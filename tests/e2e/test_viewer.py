"""viewer and the approvals inbox: each desk finds its own work without building an id."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql, gql_data

VIEWER = """{ viewer { subject role branchCode branch { code name }
  relationshipManager { id name } portfolio { customerCount }
  tasks(first: 5) { nodes { id customer { id } } }
  alerts(first: 5) { nodes { id } }
  pendingApprovals(first: 5) { nodes { id } } } }"""

PROPOSE = """mutation ($input: StateChangeInput!) { proposeStateChange(input: $input) {
  __typename ... on StateChangeProposal { id } ... on Error { code } } }"""

INBOX = """query ($filter: ApprovalFilterInput, $after: String) {
  approvals(first: 100, filter: $filter, after: $after) {
    edges { cursor node { id toState proposedBy overdue customer { id } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_an_rm_finds_their_record_book_queue_and_alerts(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)  # its own RM and an alert
    assert made.rm_id is not None
    async with engine.connect() as conn:
        branch = (
            await conn.execute(
                text(
                    "SELECT b.code, b.name FROM branches b JOIN relationship_managers r "
                    "ON r.branch_id = b.id WHERE r.id = :rm"
                ),
                {"rm": made.rm_id},
            )
        ).one()
    customer = encode_id("Customer", made.id)
    created = await gql_data(  # without an owner: the customer's RM's
        anonymous,
        """mutation ($input: CreateTaskInput!) { createTask(input: $input) { __typename } }""",
        {"input": {"customerId": customer, "kind": "FOLLOW_UP", "title": "回访"}},
        token=mint(Role.AGENT, "agent-viewer"),
    )
    assert created["createTask"]["__typename"] == "Task"
    token = mint(Role.RELATIONSHIP_MANAGER, "rm-viewer", rm=made.rm_id, branch=branch.code)
    me = (await gql_data(anonymous, VIEWER, token=token))["viewer"]
    assert (me["subject"], me["role"], me["branchCode"]) == (
        "rm-viewer",
        "RELATIONSHIP_MANAGER",
        branch.code,
    )
    assert me["branch"] == {"code": branch.code, "name": branch.name}
    assert me["relationshipManager"]["id"] == encode_id("RelationshipManager", made.rm_id)
    assert me["portfolio"] == {"customerCount": 1}
    assert [t["customer"]["id"] for t in me["tasks"]["nodes"]] == [customer]
    assert me["alerts"]["nodes"]  # the customer's acknowledged alert
    assert me["pendingApprovals"] is None  # an RM decides nothing


async def test_each_role_sees_only_the_work_it_has(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    agent = (await gql_data(anonymous, VIEWER, token=mint(Role.AGENT, "agent-viewer")))["viewer"]
    assert agent["role"] == "AGENT"
    assert agent["tasks"] is not None
    assert agent["alerts"] is not None
    assert (agent["relationshipManager"], agent["portfolio"], agent["pendingApprovals"]) == (
        None,
        None,
        None,
    )
    assert agent["branch"] is None  # the token names no branch
    approver = (await gql_data(anonymous, VIEWER, token=mint(Role.APPROVER, "checker-viewer")))[
        "viewer"
    ]
    assert approver["pendingApprovals"] is not None
    assert approver["tasks"] is None
    analyst = (await gql_data(anonymous, VIEWER, token=mint(Role.ANALYST, "analyst-viewer")))[
        "viewer"
    ]
    assert (analyst["tasks"], analyst["alerts"], analyst["pendingApprovals"]) == (None,) * 3
    for role in (Role.CUSTOMER, Role.INTEGRATION):
        refused = await gql(anonymous, "{ viewer { role } }", token=mint(role, "x", cid=1))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


async def _inbox(
    client: httpx.AsyncClient, token: str, wanted: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every page of the caller's inbox."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql_data(client, INBOX, {"filter": wanted, "after": after}, token=token))[
            "approvals"
        ]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def _move(customer_id: int, to: str) -> dict[str, Any]:
    return {
        "input": {
            "customerId": encode_id("Customer", customer_id),
            "toState": to,
            "reasonCode": "BALANCE_DROP",
            "note": "余额大幅下降",
            "expectedVersion": 2,
        }
    }


async def test_the_inbox_lists_what_the_approver_may_decide_filtered_by_branch_level_and_age(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    doubtful, normal, own = [await make_customer(engine) for _ in range(3)]
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    checker = mint(Role.APPROVER, "checker-inbox")
    ids = {}
    for made, to, token in (
        (doubtful, "DOUBTFUL", rm),
        (normal, "NORMAL", rm),
        (own, "DOUBTFUL", checker),  # the checker's own: not theirs to decide
    ):
        proposed = (await gql_data(anonymous, PROPOSE, _move(made.id, to), token=token))[
            "proposeStateChange"
        ]
        assert proposed["__typename"] == "StateChangeProposal", proposed
        ids[made.id] = proposed["id"]
    inbox = {p["id"]: p for p in await _inbox(anonymous, checker)}
    assert ids[doubtful.id] in inbox
    assert ids[normal.id] in inbox
    assert ids[own.id] not in inbox
    assert inbox[ids[doubtful.id]]["customer"]["id"] == encode_id("Customer", doubtful.id)
    assert inbox[ids[doubtful.id]]["proposedBy"] == "rm1"
    # Another approver sees the checker's own proposal.
    other = {p["id"] for p in await _inbox(anonymous, mint(Role.APPROVER, "checker-2"))}
    assert ids[own.id] in other
    # The level: only moves to DOUBTFUL.
    level = {p["id"] for p in await _inbox(anonymous, checker, {"toStates": ["DOUBTFUL"]})}
    assert ids[doubtful.id] in level
    assert ids[normal.id] not in level
    # Age: nothing proposed just now has waited a day; nothing is overdue yet.
    aged = {p["id"] for p in await _inbox(anonymous, checker, {"olderThanDays": 1})}
    assert not aged & set(ids.values())
    overdue = {p["id"] for p in await _inbox(anonymous, checker, {"overdue": True})}
    assert not overdue & set(ids.values())
    # Branch: the customers' home branch lists them; another branch does not.
    async with engine.connect() as conn:
        home, elsewhere = (
            await conn.execute(
                text(
                    "SELECT c.home_branch_id, (SELECT min(id) FROM branches b WHERE b.id <> "
                    "c.home_branch_id AND b.kind = 'sub_branch') FROM customers c WHERE c.id = :c"
                ),
                {"c": doubtful.id},
            )
        ).one()
    at_home = {
        p["id"] for p in await _inbox(anonymous, checker, {"branchId": encode_id("Branch", home)})
    }
    assert ids[doubtful.id] in at_home
    away = {
        p["id"]
        for p in await _inbox(anonymous, checker, {"branchId": encode_id("Branch", elsewhere)})
    }
    assert ids[doubtful.id] not in away


async def test_the_inbox_is_the_approvers_and_checks_its_filter(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    for role in (Role.RELATIONSHIP_MANAGER, Role.AGENT, Role.ANALYST):
        refused = await gql(anonymous, INBOX, {"filter": None}, token=mint(role, "x", rm=1))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    checker = mint(Role.APPROVER, "checker-bad-input")
    for wanted, field in (
        ({"olderThanDays": -1}, "filter.olderThanDays"),
        ({"branchId": encode_id("Customer", 1)}, "filter.branchId"),
    ):
        bad = await gql(anonymous, INBOX, {"filter": wanted}, token=checker)
        assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT", wanted
        assert bad["errors"][0]["extensions"]["field"] == field
