"""A work queue as a desk reads it: edges with cursors, each task's customer and owner."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data
from tests.statements import StatementCounter

CREATE = """mutation ($input: CreateTaskInput!) { createTask(input: $input) {
  ... on Task { id } ... on Error { code message } } }"""

QUEUE = """query ($after: String) { myTasks(first: 3, after: $after) {
  edges { cursor node { id customerId
    customer { id displayName }
    owner { __typename ... on StaffMember { subject } } } }
  nodes { id }
  pageInfo { hasNextPage endCursor } } }"""


async def _queue_of(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, owner: str, size: int
) -> list[str]:
    """`size` tasks owned by the staff member `owner`, for as many new customers."""
    made = [await make_customer(engine, name=f"队列客户{n}") for n in range(size)]
    for customer in made:
        await gql_data(
            client,
            CREATE,
            {
                "input": {
                    "customerId": encode_id("Customer", customer.id),
                    "kind": "FOLLOW_UP",
                    "title": "回访",
                    "ownerKind": "STAFF",
                    "owner": owner,
                }
            },
            token=mint(Role.AGENT, owner),
        )
    return [encode_id("Customer", c.id) for c in made]


async def test_a_queue_pages_by_edge_cursors_and_names_each_customer_and_owner(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    customers = await _queue_of(anonymous, engine, mint, "agent-queue-edges", 5)
    token = mint(Role.AGENT, "agent-queue-edges")
    first = (await gql_data(anonymous, QUEUE, {"after": None}, token=token))["myTasks"]
    edges = first["edges"]
    assert [e["node"]["id"] for e in edges] == [n["id"] for n in first["nodes"]]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": edges[-1]["cursor"]}
    # Any edge's cursor pages on from that edge: the second edge's skips the first two.
    second = await gql_data(anonymous, QUEUE, {"after": edges[1]["cursor"]}, token=token)
    assert second["myTasks"]["edges"][0]["node"] == edges[2]["node"]
    rest = await gql_data(anonymous, QUEUE, {"after": edges[-1]["cursor"]}, token=token)
    nodes = [e["node"] for e in edges + rest["myTasks"]["edges"]]
    assert [n["customerId"] for n in nodes] == customers
    assert [n["customer"]["id"] for n in nodes] == customers
    assert {n["customer"]["displayName"] for n in nodes} == {f"队列客户{n}" for n in range(5)}
    assert {n["owner"]["__typename"] for n in nodes} == {"StaffMember"}
    assert {n["owner"]["subject"] for n in nodes} == {"agent-queue-edges"}


async def test_a_queue_reads_its_customers_in_one_batch_whatever_its_length(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, statements: StatementCounter
) -> None:
    """Names on a queue cost no statement per task: one task and three cost the same."""
    sent: dict[int, int] = {}
    for size in (1, 3):
        owner = f"agent-queue-batch-{size}"
        await _queue_of(anonymous, engine, mint, owner, size)
        with statements.capture() as captured:
            page = await gql_data(anonymous, QUEUE, {"after": None}, token=mint(Role.AGENT, owner))
        assert len(page["myTasks"]["edges"]) == size
        assert all(e["node"]["customer"] for e in page["myTasks"]["edges"])
        sent[size] = len(captured)
    assert sent[1] == sent[3], sent


async def test_the_customer_sees_no_owner_on_their_own_tasks(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)  # with an open task
    data = await gql_data(
        anonymous,
        "{ me { ... on Customer { openTasks { ownerKind owner { __typename } } } } }",
        token=mint(Role.CUSTOMER, "self", cid=made.id),
    )
    tasks = data["me"]["openTasks"]
    assert tasks
    assert all(t == {"ownerKind": None, "owner": None} for t in tasks)
