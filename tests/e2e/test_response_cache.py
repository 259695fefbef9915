"""The response cache of the registered profile: one statement per hit, never stale."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.access.rate_limits import RefusalMemory
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data
from tests.statements import StatementCounter

PROFILE = next(op for op in registry().values() if op.name == "call_center_profile")
PLAIN = "# plain execution\n" + PROFILE.query
RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId } ... on Error { code } } }"""


async def _profile(
    client: httpx.AsyncClient, customer_id: int, token: str, plain: bool = False
) -> Any:
    body: dict[str, Any] = {"variables": {"id": encode_id("Customer", customer_id)}}
    if plain:
        body["query"] = PLAIN
    else:
        body["id"] = PROFILE.sha256
    response = await client.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _audits(engine: AsyncEngine, subject: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT customer_ids, fields, outcome FROM audit_records WHERE subject = :s "
                "ORDER BY id"
            ),
            {"s": subject},
        )
        return [tuple(r) for r in rows]


async def test_a_hit_costs_one_statement_answers_as_plain_execution_and_is_audited(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    statements: StatementCounter,
) -> None:
    made = await make_customer(engine, interactions=30)
    first_agent, second_agent = mint(Role.AGENT, "cache-a1"), mint(Role.AGENT, "cache-a2")
    missed = await _profile(anonymous, made.id, first_agent)
    with statements.capture() as sent:
        hit = await _profile(anonymous, made.id, second_agent)  # same role: same scope
    assert len(sent) == 1, "\n\n".join(sent)
    assert "INSERT INTO audit_records" in sent[0]
    assert hit == missed == await _profile(anonymous, made.id, second_agent, plain=True)
    # The hit wrote the second agent's own read audit, with the same fields.
    first, second = await _audits(engine, "cache-a1"), await _audits(engine, "cache-a2")
    assert second[0] == first[0]
    assert second[0][0] == [made.id]


async def test_callers_who_see_differently_never_share_an_answer(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=2)
    own_rm = mint(Role.RELATIONSHIP_MANAGER, "cache-rm1", rm=1)
    other_rm = mint(Role.RELATIONSHIP_MANAGER, "cache-rm2", rm=2)
    teller = mint(Role.TELLER, "cache-teller")
    clear = await _profile(anonymous, made.id, own_rm)
    masked = await _profile(anonymous, made.id, other_rm)
    assert clear["data"]["customer"]["documents"][0]["number"] == made.resident_id
    assert masked["data"]["customer"]["documents"][0]["number"] != made.resident_id
    for token in (own_rm, other_rm, teller):
        assert await _profile(anonymous, made.id, token) == await _profile(
            anonymous, made.id, token, plain=True
        )


async def test_after_a_committed_write_no_caller_gets_the_old_answer(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=3)
    agent = mint(Role.AGENT, "cache-writer")
    before = await _profile(anonymous, made.id, agent)
    assert before == await _profile(anonymous, made.id, agent)  # now cached
    recorded = await gql_data(
        anonymous,
        RECORD,
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "channel": "CALL_CENTER",
                "kind": "INQUIRY",
                "occurredAt": datetime.now(UTC).isoformat(),
                "summary": "缓存之后的新记录",
            }
        },
        token=agent,
    )
    new_id = recorded["recordInteraction"]["interactionId"]
    after = await _profile(anonymous, made.id, agent)
    assert after["data"]["customer"]["interactions"]["edges"][0]["node"]["id"] == new_id
    # Reference data every profile shows: a renamed branch is seen at once as well.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE branches SET name = name || '（新）' WHERE id = "
                "(SELECT home_branch_id FROM customers WHERE id = :id)"
            ),
            {"id": made.id},
        )
    renamed = await _profile(anonymous, made.id, agent)
    assert renamed["data"]["customer"]["homeBranch"]["name"].endswith("（新）")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE branches SET name = replace(name, '（新）', '') WHERE id = "
                "(SELECT home_branch_id FROM customers WHERE id = :id)"
            ),
            {"id": made.id},
        )


async def test_reads_racing_writes_never_see_an_answer_older_than_the_last_commit(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, interactions=5)
    writer = mint(Role.AGENT, "race-writer")
    readers = [mint(Role.AGENT, f"race-reader-{n}") for n in range(6)]
    stop = asyncio.Event()

    async def churn(token: str) -> None:
        # Readers that keep storing answers, some built just before a write committed.
        while not stop.is_set():
            await _profile(anonymous, made.id, token)

    background = [asyncio.create_task(churn(t)) for t in readers[:3]]
    try:
        for n in range(8):
            recorded = await gql_data(
                anonymous,
                RECORD,
                {
                    "input": {
                        "customerId": encode_id("Customer", made.id),
                        "channel": "MOBILE_APP",
                        "kind": "INQUIRY",
                        "occurredAt": datetime.now(UTC).isoformat(),
                        "summary": f"并发写入 {n}",
                    }
                },
                token=writer,
            )
            committed = recorded["recordInteraction"]["interactionId"]
            # Every read that starts after the commit answered sees it.
            seen = await asyncio.gather(*(_profile(anonymous, made.id, t) for t in readers[3:]))
            for body in seen:
                edges = body["data"]["customer"]["interactions"]["edges"]
                assert edges[0]["node"]["id"] == committed
    finally:
        stop.set()
        await asyncio.gather(*background)


async def test_a_stale_answer_is_charged_to_the_rate_limit_once(
    app: Any, anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    endpoint = next(r for r in app.routes if getattr(r, "path", None) == "/graphql").app
    real = endpoint.ports.rate_limiter
    charged: list[float] = []

    class Counting:
        capacity = real.capacity
        refusals = real.refusals

        async def acquire(self, key: str, cost: float) -> float | None:
            if key.endswith(":cache-charge"):
                charged.append(cost)
            result: float | None = await real.acquire(key, cost)
            return result

    made = await make_customer(engine, interactions=1)
    agent = mint(Role.AGENT, "cache-charge")
    endpoint.ports.rate_limiter = Counting()
    try:
        await _profile(anonymous, made.id, agent)  # miss: charged by the schema extension
        await _profile(anonymous, made.id, agent)  # hit: charged by the cache path
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE customers SET display_name = display_name WHERE id = :id"),
                {"id": made.id},
            )
        await _profile(anonymous, made.id, agent)  # stale: charged once, answered afresh
    finally:
        endpoint.ports.rate_limiter = real
    assert len(charged) == 3
    assert len(set(charged)) == 1  # the same cost on every path


async def test_a_limited_caller_gets_the_executors_refusal_charged_once(
    app: Any, anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    endpoint = next(r for r in app.routes if getattr(r, "path", None) == "/graphql").app
    real = endpoint.ports.rate_limiter
    charged: list[float] = []

    class Empty:
        capacity = real.capacity
        refusals = RefusalMemory(1.0)  # its own: these refusals are not remembered

        async def acquire(self, key: str, cost: float) -> float | None:
            charged.append(cost)
            return 1.5

    made = await make_customer(engine)
    agent = mint(Role.AGENT, "limited")
    endpoint.ports.rate_limiter = Empty()
    try:
        registered = await _profile(anonymous, made.id, agent)
        assert len(charged) == 1
        plain = await _profile(anonymous, made.id, agent, plain=True)
    finally:
        endpoint.ports.rate_limiter = real
    assert registered["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1.5}
    assert registered == plain
    assert len(charged) == 2  # once each


async def test_an_operation_over_the_whole_bucket_is_refused_alike_and_charged_nothing(
    app: Any, anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    endpoint = next(r for r in app.routes if getattr(r, "path", None) == "/graphql").app
    real = endpoint.ports.rate_limiter
    charged: list[float] = []

    class Small:
        capacity = 100.0  # below the registered profile's cost
        refusals = RefusalMemory(1.0)

        async def acquire(self, key: str, cost: float) -> float | None:
            charged.append(cost)
            return None

    made = await make_customer(engine)
    agent = mint(Role.AGENT, "too-costly")
    endpoint.ports.rate_limiter = Small()
    try:
        registered = await _profile(anonymous, made.id, agent)
        plain = await _profile(anonymous, made.id, agent, plain=True)
    finally:
        endpoint.ports.rate_limiter = real
    (error,) = registered["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == 100
    assert error["extensions"]["cost"] > 100
    assert registered == plain
    assert charged == []
