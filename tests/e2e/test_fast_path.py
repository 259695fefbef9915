"""The fast path of the registered call-center profile: two statements, the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources
from api.http.app import create_app
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from schema.customers import queries
from schema.customers.prefetch import prefetch_profile
from schema.customers.registered import RegisteredProfile
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql_data, ports_of
from tests.statements import StatementCounter

PROFILE = next(op for op in registry().values() if op.name == "call_center_profile")
# The same text with a comment in front: not the registered text, so plain execution.
PLAIN = "# plain execution\n" + PROFILE.query


async def _fast(client: httpx.AsyncClient, customer_id: int, token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql",
        json={"id": PROFILE.sha256, "variables": {"id": encode_id("Customer", customer_id)}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _plain(client: httpx.AsyncClient, customer_id: int, token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql",
        json={"query": PLAIN, "variables": {"id": encode_id("Customer", customer_id)}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("interaction_count", [0, 1, 300])
@pytest.mark.parametrize("path", ["registered", "plain"])
async def test_the_profile_costs_two_statements_whatever_the_list_sizes(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    statements: StatementCounter,
    interaction_count: int,
    path: str,
) -> None:
    # The registered text is walked from one snapshot; the same text sent as plain GraphQL is
    # executed, its loaders primed from the same snapshot (schema/customers/prefetch.py).
    made = await make_customer(engine, interactions=interaction_count, holdings=6)
    ask = _fast if path == "registered" else _plain
    with statements.capture() as sent:
        body = await ask(client, made.id)
    assert body.get("data"), body
    assert body["data"]["customer"]["__typename"] == "Customer"
    assert len(body["data"]["customer"]["interactions"]["edges"]) == min(interaction_count, 20)
    # The profile in one read, and the read audit's INSERT.
    assert len(sent) == 2, "\n\n".join(sent)
    assert "INSERT INTO audit_records" in sent[1]


async def _crafted(engine: AsyncEngine, client: httpx.AsyncClient) -> list[Made]:
    """Customers that exercise every part of the profile, beside the seeded ones."""
    rich = await make_customer(engine, interactions=25, holdings=5)
    proposal = await gql_data(
        client,
        """mutation ($input: StateChangeInput!) { proposeStateChange(input: $input) {
          __typename } }""",
        {
            "input": {
                "customerId": encode_id("Customer", rich.id),
                "toState": "DOUBTFUL",
                "reasonCode": "COMPLAINTS",
                "note": "多次投诉",
                "expectedVersion": 2,
            }
        },
    )
    assert proposal["proposeStateChange"]["__typename"] == "StateChangeProposal"
    task = await gql_data(
        client,
        """mutation ($input: CreateTaskInput!) { createTask(input: $input) { __typename } }""",
        {
            "input": {
                "customerId": encode_id("Customer", rich.id),
                "kind": "FOLLOW_UP",
                "title": "回访理财到期",
                "dueAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            }
        },
    )
    assert task["createTask"]["__typename"] == "Task"
    orphan = await make_customer(engine, interactions=2, holdings=0)
    async with engine.begin() as conn:
        # No RM, no home branch, never classified: the parts that are absent.
        await conn.execute(
            text(
                "UPDATE customers SET relationship_manager_id = NULL, home_branch_id = NULL "
                "WHERE id = :id"
            ),
            {"id": orphan.id},
        )
        await conn.execute(
            text("DELETE FROM relationship_state_changes WHERE customer_id = :id"),
            {"id": orphan.id},
        )
        await conn.execute(
            text("DELETE FROM relationship_states WHERE customer_id = :id"), {"id": orphan.id}
        )
    return [rich, orphan]


def _switchable_prefetch(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Plain execution with the profile prefetch on (the default) or off (every part read by
    its own loader), as the returned flag says."""
    on = [True]

    async def switchable(info: Any, pk: int) -> None:
        if on[0]:
            await prefetch_profile(info, pk)

    monkeypatch.setattr(queries, "prefetch_profile", switchable)
    return on


async def test_the_fast_path_answers_exactly_as_plain_execution_for_every_role(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    app: Starlette,
    engine: AsyncEngine,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Count the answers the walker renders itself, so this compares the walker, not the
    # executor it falls back to.
    rendered: list[int] = []
    walk = RegisteredProfile.render

    async def counting(self: RegisteredProfile, *args: Any) -> Any:
        data = await walk(self, *args)
        if data is not None:
            rendered.append(1)
        return data

    monkeypatch.setattr(RegisteredProfile, "render", counting)
    prefetching = _switchable_prefetch(monkeypatch)
    crafted = await _crafted(engine, client)
    async with engine.connect() as conn:
        seeded = (
            await conn.execute(
                text(
                    "(SELECT id, relationship_manager_id FROM customers WHERE kind = 'personal' "
                    " ORDER BY id LIMIT 12) UNION ALL "
                    "(SELECT id, relationship_manager_id FROM customers WHERE kind = 'corporate' "
                    " ORDER BY id LIMIT 4)"
                )
            )
        ).all()
    subjects = [(c.id, 1) for c in crafted] + [
        (row.id, row.relationship_manager_id) for row in seeded
    ]
    compared = 0
    sessions = ports_of(app).counter_sessions
    for customer_id, rm_id in subjects:
        await sessions.open(f"teller-session-{customer_id}", customer_id)
        tokens = {
            "agent": mint(Role.AGENT, f"agent-diff-{customer_id}"),
            "teller": mint(Role.TELLER, f"teller-diff-{customer_id}"),
            # Inside a verified counter session: the teller's clear view.
            "teller-session": mint(Role.TELLER, f"teller-session-{customer_id}"),
            "rm-own": mint(Role.RELATIONSHIP_MANAGER, f"rm-diff-{customer_id}", rm=rm_id or 1),
            "rm-other": mint(
                Role.RELATIONSHIP_MANAGER, f"rm-other-{customer_id}", rm=(rm_id or 1) + 1
            ),
            "approver": mint(Role.APPROVER, f"approver-diff-{customer_id}"),
            "compliance": mint(Role.COMPLIANCE, f"compliance-diff-{customer_id}"),
            "admin": mint(Role.ADMIN, f"admin-diff-{customer_id}"),
            "customer-own": mint(Role.CUSTOMER, f"self-{customer_id}", cid=customer_id),
            "customer-other": mint(
                Role.CUSTOMER, f"other-{customer_id}", cid=customer_id + 10_000_000
            ),
            "analyst": mint(Role.ANALYST, f"analyst-diff-{customer_id}"),
            "integration": mint(Role.INTEGRATION, f"core-{customer_id}", client_id="core"),
        }
        for role, token in tokens.items():
            fast = await _fast(anonymous, customer_id, token)
            plain = await _plain(anonymous, customer_id, token)
            # And plain execution reading through every loader, with no snapshot at all: the
            # snapshot is checked against the loaders' own statements, not against itself.
            prefetching[0] = False
            loaded = await _plain(anonymous, customer_id, token)
            prefetching[0] = True
            assert fast == plain == loaded, f"customer {customer_id} as {role}"
            compared += 1
    assert compared == len(subjects) * 12
    # Analysts, integrations and other customers are refused before anything is read; every
    # other answer was walked, not executed.
    assert len(rendered) == len(subjects) * 9
    # And for an id that is no customer, or not a customer id at all.
    for bad in (encode_id("Customer", 987_654_321), encode_id("Branch", 1), "garbage"):
        fast = await anonymous.post(
            "/graphql",
            json={"id": PROFILE.sha256, "variables": {"id": bad}},
            headers={"authorization": f"Bearer {mint(Role.AGENT, 'a')}"},
        )
        plain = await anonymous.post(
            "/graphql",
            json={"query": PLAIN, "variables": {"id": bad}},
            headers={"authorization": f"Bearer {mint(Role.AGENT, 'a')}"},
        )
        assert fast.json() == plain.json()


async def test_the_fast_path_writes_the_same_read_audit(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, interactions=3)

    async def last_audit() -> tuple[Any, ...]:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT customer_ids, fields, outcome, role, subject, operation "
                        "FROM audit_records "
                        "ORDER BY id DESC LIMIT 1"
                    )
                )
            ).one()
        return tuple(row)

    await _fast(client, made.id)
    fast = await last_audit()
    await _plain(client, made.id)
    plain = await last_audit()
    assert fast == plain
    assert fast[0] == [made.id]


SELF_VIEW = next(op for op in registry().values() if op.name == "self_view")


async def test_the_self_view_is_walked_too_and_answers_as_plain_execution(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    statements: StatementCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked: list[int] = []
    walk = RegisteredProfile.render

    async def counting(self: RegisteredProfile, *args: Any) -> Any:
        data = await walk(self, *args)
        if data is not None:
            walked.append(1)
        return data

    monkeypatch.setattr(RegisteredProfile, "render", counting)
    made = await make_customer(engine, interactions=15, holdings=3)
    async with engine.begin() as conn:
        # Two answers for the same purpose and channel: only the latest is current.
        await conn.execute(
            text(
                "INSERT INTO consents (customer_id, purpose, channel, granted, version, "
                "recorded_at, source, actor) VALUES "
                "(:c, 'marketing', 'sms', true, 1, now(), 'mobile_app', 'customer'), "
                "(:c, 'marketing', 'sms', false, 2, now(), 'mobile_app', 'customer'), "
                "(:c, 'profiling', 'all', true, 3, now(), 'counter', 'teller-9')"
            ),
            {"c": made.id},
        )
        seeded = (
            await conn.scalars(
                text("SELECT id FROM customers WHERE kind = 'personal' ORDER BY id LIMIT 8")
            )
        ).all()

    async def ask(body: dict[str, Any], token: str) -> Any:
        response = await anonymous.post(
            "/graphql", json=body, headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    subjects = [made.id, *seeded]
    for customer_id in subjects:
        token = mint(Role.CUSTOMER, f"self-view-{customer_id}", cid=customer_id)
        with statements.capture() as sent:
            fast = await ask({"id": SELF_VIEW.sha256}, token)
        plain = await ask({"query": "# plain\n" + SELF_VIEW.query}, token)
        assert fast == plain, customer_id
        assert len(sent) == 2  # the snapshot and the read audit
    assert len(walked) == len(subjects)
    consents = (await ask({"id": SELF_VIEW.sha256}, mint(Role.CUSTOMER, "again", cid=made.id)))[
        "data"
    ]["me"]["consents"]
    assert {"purpose": "MARKETING", "channel": "SMS", "granted": False} in consents
    # Staff have no `me`: the executor answers them, exactly as for the text.
    agent = mint(Role.AGENT, "no-me")
    assert await ask({"id": SELF_VIEW.sha256}, agent) == await ask(
        {"query": "# plain\n" + SELF_VIEW.query}, agent
    )


async def test_without_redis_the_registered_profile_is_still_walked_and_audited(
    settings: Settings,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Redis holds the rate buckets and the cache: without it the lane limits in process,
    # misses the cache, cannot keep the answer, and still answers and audits.
    made = await make_customer(engine, interactions=3, holdings=2)
    expected = await _plain(client, made.id)
    rendered: list[int] = []
    walk = RegisteredProfile.render

    async def counting(self: RegisteredProfile, *args: Any) -> Any:
        data = await walk(self, *args)
        rendered.append(data is not None)
        return data

    monkeypatch.setattr(RegisteredProfile, "render", counting)
    unreachable = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    offline = create_app(settings, Resources(engine=engine, redis=unreachable))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=offline), base_url="http://quanjing.test"
        ) as caller:
            body = await _fast(caller, made.id, mint(Role.RELATIONSHIP_MANAGER, "rm-offline", rm=1))
    finally:
        await unreachable.aclose()
    assert body == expected
    assert rendered == [True]
    async with engine.connect() as conn:
        audited = await conn.scalar(
            text("SELECT count(*) FROM audit_records WHERE subject = 'rm-offline'")
        )
    assert audited == 1


VARIED = """
query Varied($id: ID!, $n: Int!) {
  customer(id: $id) {
    __typename
    ...Parts
    ... on Customer {
      recent: interactions(first: $n) {
        edges { cursor node { id kind channel occurredAt staffCode cost } }
        pageInfo { hasNextPage endCursor }
      }
      older: interactions(first: 3) { edges { node { id } } }
      calls: interactions(first: 5, channels: [CALL_CENTER]) { edges { node { id channel } } }
      holdings(includeClosed: true) {
        items { id accountNumber status balance product { code } }
        totals { currency }
        productCount
      }
      relationship { state since version pendingProposal { toState } history { toState } }
      consents { purpose channel granted actor }
      nextBestProducts { product { code } }
    }
    ... on Error { code message }
  }
}
fragment Parts on Customer {
  displayName
  contactPoints { kind value isPreferred }
  documents { type number }
  homeBranch { name }
  relationshipManager { name }
  openTasks { id kind title }
}
"""
FEW = """query Few($id: ID!) { customer(id: $id) { ... on Customer { displayName
  documents { number } } ... on Error { code } } }"""


async def test_any_profile_selection_is_read_in_one_snapshot_and_answers_as_the_loaders_do(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    statements: StatementCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefetching = _switchable_prefetch(monkeypatch)
    crafted = await _crafted(engine, client)
    async with engine.connect() as conn:
        seeded = list(await conn.scalars(text("SELECT id FROM customers ORDER BY id LIMIT 6")))

    async def ask(query: str, variables: dict[str, Any], token: str) -> tuple[Any, list[str]]:
        with statements.capture() as sent:
            response = await anonymous.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
        assert response.status_code == 200, response.text
        return response.json(), list(sent)

    for customer_id in [c.id for c in crafted] + seeded:
        for role, token in {
            "agent": mint(Role.AGENT, f"agent-varied-{customer_id}"),
            "rm": mint(Role.RELATIONSHIP_MANAGER, f"rm-varied-{customer_id}", rm=1),
            "customer-own": mint(Role.CUSTOMER, f"own-varied-{customer_id}", cid=customer_id),
            "analyst": mint(Role.ANALYST, f"analyst-varied-{customer_id}"),
        }.items():
            for query, variables in (
                (VARIED, {"id": encode_id("Customer", customer_id), "n": 7}),
                (FEW, {"id": encode_id("Customer", customer_id)}),
            ):
                snapshot, with_snapshot = await ask(query, variables, token)
                prefetching[0] = False
                loaded, with_loaders = await ask(query, variables, token)
                prefetching[0] = True
                where = f"customer {customer_id} as {role}"
                assert snapshot == loaded, where
                assert "errors" not in snapshot, where
                if role == "analyst":
                    continue  # refused before anything is read, either way
                # The customer and every part the snapshot covers in one statement; what it
                # does not cover (history, the filtered page, consents behind the offers,
                # the offers themselves) still has its own.
                assert len(with_snapshot) < len(with_loaders), where
                assert sum("ARRAY(SELECT ROW(c.id" in s for s in with_snapshot) == 1, where
                assert not any("FROM customers" in s and "ARRAY" not in s for s in with_snapshot)
