"""Recording from every channel: idempotency, validation, tasks, the feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import decode_typed_id, encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data
from tests.statements import StatementCounter

RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename
  ... on RecordInteractionPayload { interactionId replayed
    interaction { channel kind summary cost }
    task { id kind status ownerKind owner { ... on RelationshipManager { id } ... on StaffMember { subject } ... on WorkQueue { name } } dueAt } }
  ... on Error { code message }
  ... on InvalidInputError { field } } }"""


def _input(customer_id: int, **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "customerId": encode_id("Customer", customer_id),
        "channel": "CALL_CENTER",
        "kind": "INQUIRY",
        "occurredAt": datetime.now(UTC).isoformat(),
        "summary": "询问理财到期",
        "cost": "6.50",
        "staffCode": "S0042",
    }
    value.update(overrides)
    return value


async def _count(endpoints: Endpoints, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        value: int = await conn.fetchval(sql, *args)
        return value
    finally:
        await conn.close()


async def test_an_agent_records_an_interaction_and_sees_it_on_the_timeline(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-rec")
    data = await gql_data(anonymous, RECORD, {"input": _input(made.id)}, token=agent)
    payload = data["recordInteraction"]
    assert payload["__typename"] == "RecordInteractionPayload"
    assert payload["interaction"] == {
        "channel": "CALL_CENTER",
        "kind": "INQUIRY",
        "summary": "询问理财到期",
        "cost": "6.50",
    }
    assert payload["task"] is None
    timeline = await gql_data(
        anonymous,
        """query ($id: ID!) { customer(id: $id) {
        ... on Customer { interactions(first: 1) { edges { node { id } } } } } }""",
        {"id": encode_id("Customer", made.id)},
        token=agent,
    )
    edges = timeline["customer"]["interactions"]["edges"]
    assert edges[0]["node"]["id"] == payload["interactionId"]


async def test_the_same_key_and_request_replays_the_first_response(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, endpoints: Endpoints
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-idem")
    request = {"input": _input(made.id, idempotencyKey="retry-0001-abc")}
    first = (await gql_data(anonymous, RECORD, request, token=agent))["recordInteraction"]
    again = (await gql_data(anonymous, RECORD, request, token=agent))["recordInteraction"]
    assert again["interactionId"] == first["interactionId"]
    assert (first["replayed"], again["replayed"]) == (False, True)
    other_payload = {"input": _input(made.id, idempotencyKey="retry-0001-abc", summary="别的")}
    reused = (await gql_data(anonymous, RECORD, other_payload, token=agent))["recordInteraction"]
    assert reused["__typename"] == "IdempotencyKeyReusedError"
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Keys are scoped per caller: another agent's identical key is a new request.
    other = mint(Role.AGENT, "agent-other")
    theirs = (await gql_data(anonymous, RECORD, request, token=other))["recordInteraction"]
    assert theirs["replayed"] is False
    assert (
        await _count(endpoints, "SELECT count(*) FROM interactions WHERE customer_id = $1", made.id)
        == 2
    )


async def test_concurrent_requests_with_one_key_write_exactly_one_row(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, endpoints: Endpoints
) -> None:
    made = await make_customer(engine)
    integration = mint(Role.INTEGRATION, "core", client_id="core-banking")
    request = {"input": _input(made.id, channel="COUNTER", idempotencyKey="concurrent-77")}
    results = await asyncio.gather(
        *(gql_data(anonymous, RECORD, request, token=integration) for _ in range(12))
    )
    ids = {r["recordInteraction"]["interactionId"] for r in results}
    assert len(ids) == 1
    assert sorted(r["recordInteraction"]["replayed"] for r in results).count(False) == 1
    assert (
        await _count(endpoints, "SELECT count(*) FROM interactions WHERE customer_id = $1", made.id)
        == 1
    )
    # An integration reads no profile: the payload names the interaction but shows nothing.
    assert results[0]["recordInteraction"]["interaction"] is None


async def test_integrations_must_send_an_idempotency_key(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    data = await gql_data(
        anonymous,
        RECORD,
        {"input": _input(made.id)},
        token=mint(Role.INTEGRATION, "core", client_id="core-banking"),
    )
    assert data["recordInteraction"]["field"] == "idempotencyKey"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        (
            {"occurredAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
            "INVALID_INPUT",
            "occurredAt",
        ),
        ({"cost": "-1.00"}, "INVALID_INPUT", "cost"),
        ({"cost": "1.005"}, "INVALID_INPUT", "cost"),
        ({"cost": "NaN"}, "INVALID_INPUT", "cost"),
        ({"cost": "1e309"}, "INVALID_INPUT", "cost"),  # was an internal error (overflow)
        ({"cost": "10000000000.00"}, "INVALID_INPUT", "cost"),
        ({"summary": "长" * 2001}, "INVALID_INPUT", "summary"),
        ({"satisfaction": 6}, "INVALID_INPUT", "satisfaction"),
        (
            {"productsDiscussed": [encode_id("Product", 999999)]},
            "INVALID_INPUT",
            "productsDiscussed",
        ),
        ({"branchId": encode_id("Branch", 999999)}, "INVALID_INPUT", "branchId"),
        ({"offers": ["x"] * 21}, "INVALID_INPUT", "offers"),
        ({"idempotencyKey": "short"}, "INVALID_INPUT", "idempotencyKey"),
        # Zero dates from a sender with no value (were stored as year 1 and 1970).
        ({"occurredAt": "0001-01-01T00:00:00Z"}, "INVALID_INPUT", "occurredAt"),
        ({"occurredAt": "1970-01-01T00:00:00Z"}, "INVALID_INPUT", "occurredAt"),
    ],
)
async def test_bad_input_is_refused_with_a_typed_error_and_nothing_is_written(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    endpoints: Endpoints,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    made = await make_customer(engine)
    data = await gql_data(
        anonymous,
        RECORD,
        {"input": _input(made.id, **overrides)},
        token=mint(Role.AGENT, "agent-bad"),
    )
    assert (data["recordInteraction"]["code"], data["recordInteraction"].get("field")) == (
        code,
        field,
    )
    assert (
        await _count(endpoints, "SELECT count(*) FROM interactions WHERE customer_id = $1", made.id)
        == 0
    )


async def test_an_unknown_customer_is_not_found(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    data = await gql_data(anonymous, RECORD, {"input": _input(10**9)}, token=mint(Role.AGENT, "a"))
    assert data["recordInteraction"]["code"] == "NOT_FOUND"


async def test_a_complaint_opens_a_task_for_the_rm_who_completes_it_onto_the_timeline(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)  # the factories give every customer RM 1
    data = await gql_data(
        anonymous,
        RECORD,
        {"input": _input(made.id, kind="COMPLAINT", summary="投诉排队时间过长")},
        token=mint(Role.AGENT, "agent-c"),
    )
    task = data["recordInteraction"]["task"]
    assert (task["kind"], task["status"], task["ownerKind"], task["owner"]) == (
        "COMPLAINT",
        "OPEN",
        "RM",
        {"id": encode_id("RelationshipManager", 1)},
    )
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    mine = await gql_data(anonymous, "{ myTasks(first: 100) { nodes { id } } }", token=rm)
    assert task["id"] in [t["id"] for t in mine["myTasks"]["nodes"]]
    # Someone who does not own it cannot complete it.
    complete = """mutation ($input: CompleteTaskInput!) { completeTask(input: $input) {
      __typename ... on Task { status result satisfaction } ... on Error { code } } }"""
    done_input = {"input": {"taskId": task["id"], "result": "已致电客户并致歉", "satisfaction": 4}}
    other_rm = mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2)
    assert (await gql_data(anonymous, complete, done_input, token=other_rm))["completeTask"][
        "code"
    ] == "NOT_FOUND"
    done = await gql_data(anonymous, complete, done_input, token=rm)
    assert done["completeTask"] == {
        "__typename": "Task",
        "status": "DONE",
        "result": "已致电客户并致歉",
        "satisfaction": 4,
    }
    again = await gql_data(anonymous, complete, done_input, token=rm)
    assert again["completeTask"]["code"] == "INVALID_INPUT"
    timeline = await gql_data(
        anonymous,
        """query ($id: ID!) { customer(id: $id) {
        ... on Customer { interactions(first: 1, kinds: [FOLLOW_UP]) { edges { node {
        summary satisfaction } } } openTasks { id } } } }""",
        {"id": encode_id("Customer", made.id)},
        token=rm,
    )
    customer = timeline["customer"]
    assert customer["interactions"]["edges"][0]["node"] == {
        "summary": "已致电客户并致歉",
        "satisfaction": 4,
    }
    assert customer["openTasks"] == []


async def test_overdue_tasks_are_listed_as_such(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, endpoints: Endpoints
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-overdue")
    created = await gql_data(
        anonymous,
        """mutation ($input: CreateTaskInput!) {
        createTask(input: $input) { ... on Task { id overdue ownerKind owner { ... on RelationshipManager { id } ... on StaffMember { subject } ... on WorkQueue { name } } } } }""",
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "kind": "FOLLOW_UP",
                "title": "理财到期回访",
                "ownerKind": "STAFF",
                "owner": "agent-overdue",
            }
        },
        token=agent,
    )
    task = created["createTask"]
    assert (task["overdue"], task["ownerKind"]) == (False, "STAFF")
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        await conn.execute(
            "UPDATE tasks SET due_at = now() - interval '1 day' WHERE owner_ref = 'agent-overdue'"
        )
    finally:
        await conn.close()
    overdue = await gql_data(
        anonymous, "{ myTasks(first: 10, overdue: true) { nodes { id overdue } } }", token=agent
    )
    assert {"id": task["id"], "overdue": True} in overdue["myTasks"]["nodes"]


async def test_a_teller_records_at_the_counter_only_inside_a_session(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    teller = mint(Role.TELLER, "teller-rec")
    counter = {"input": _input(made.id, channel="COUNTER", kind="TRANSACTION")}
    refused = await gql_data(anonymous, RECORD, counter, token=teller)
    assert refused["recordInteraction"]["code"] == "COUNTER_SESSION_EXPIRED"
    await gql_data(
        anonymous,
        """mutation ($input: OpenCounterSessionInput!) {
        openCounterSession(input: $input) { __typename } }""",
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "documentType": "RESIDENT_ID",
                "documentNumber": made.resident_id,
            }
        },
        token=teller,
    )
    accepted = await gql_data(anonymous, RECORD, counter, token=teller)
    assert accepted["recordInteraction"]["__typename"] == "RecordInteractionPayload"


FUND = """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on RecordFundMovementPayload { movementId replayed }
  ... on Error { code } ... on InvalidInputError { field } } }"""


async def _holding(endpoints: Endpoints, customer_id: int) -> tuple[int, str]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        row = await conn.fetchrow(
            "SELECT id, currency FROM holdings WHERE customer_id = $1 ORDER BY id LIMIT 1",
            customer_id,
        )
        assert row is not None
        return row["id"], row["currency"]
    finally:
        await conn.close()


async def test_fund_movements_are_recorded_once_per_external_reference(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter, endpoints: Endpoints
) -> None:
    made = await make_customer(engine)
    holding_id, currency = await _holding(endpoints, made.id)
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    movement = {
        "holdingId": encode_id("Holding", holding_id),
        "amount": "500000.00",
        "currency": currency,
        "direction": "DEBIT",
        "counterpartyKind": "OTHER_BANK",
        "channel": "WEB_BANKING",
        "bookedAt": datetime.now(UTC).isoformat(),
        "externalRef": f"CORE-{made.id}-1",
    }
    first = (await gql_data(anonymous, FUND, {"input": movement}, token=core))["recordFundMovement"]
    again = (await gql_data(anonymous, FUND, {"input": movement}, token=core))["recordFundMovement"]
    assert again == {**first, "replayed": True}
    changed = {**movement, "amount": "1.00"}
    reused = (await gql_data(anonymous, FUND, {"input": changed}, token=core))["recordFundMovement"]
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    wrong = {
        **movement,
        "currency": "USD" if currency != "USD" else "EUR",
        "externalRef": f"CORE-{made.id}-2",
    }
    assert (await gql_data(anonymous, FUND, {"input": wrong}, token=core))["recordFundMovement"][
        "field"
    ] == "currency"
    agent = await gql_data(anonymous, FUND, {"input": movement}, token=mint(Role.AGENT, "a"))
    assert agent["recordFundMovement"]["code"] == "FORBIDDEN"
    zero_date = {**movement, "bookedAt": "0001-01-01T00:00:00Z", "externalRef": f"Z-{made.id}"}
    refused = (await gql_data(anonymous, FUND, {"input": zero_date}, token=core))[
        "recordFundMovement"
    ]
    assert refused["field"] == "bookedAt"


UPSERT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { holdingId change } ... on Error { code }
  ... on InvalidInputError { field } } }"""


async def test_the_holdings_feed_opens_changes_replays_and_closes(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    record = {
        "sourceRef": f"CORE-H-{made.id}",
        "customerId": encode_id("Customer", made.id),
        "productCode": "TD-1Y",
        "accountNumber": f"6222{made.id:012d}",
        "currency": "CNY",
        "balance": "100000.00",
        "status": "ACTIVE",
        "openedOn": "2026-01-05",
    }

    async def apply(value: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (await gql_data(anonymous, UPSERT, {"input": value}, token=core))[
            "upsertHolding"
        ]
        return result

    opened = await apply(record)
    assert opened["change"] == "opened"
    assert (await apply(record))["change"] == "unchanged"
    assert (await apply({**record, "balance": "90000.00"}))["change"] == "changed"
    closed = await apply({**record, "balance": "0", "status": "CLOSED", "closedOn": "2026-11-01"})
    assert closed == {**opened, "change": "closed"}
    bad = await apply({**record, "status": "CLOSED"})
    assert bad["field"] == "closedOn"
    unknown = await apply({**record, "sourceRef": "X-1", "productCode": "NOPE"})
    assert unknown["field"] == "productCode"


async def test_housekeeping_forgets_expired_idempotency_keys(
    app: Any, endpoints: Endpoints
) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        await conn.execute(
            "INSERT INTO idempotency_keys (scope, key, operation, request_hash, expires_at) "
            "VALUES ('t', 'expired-1', 'x', 'h', now() - interval '1 second'), "
            "('t', 'live-1', 'x', 'h', now() + interval '1 day')"
        )
        await app.state.relay.housekeeping()
        keys = await conn.fetch("SELECT key FROM idempotency_keys WHERE scope = 't'")
    finally:
        await conn.close()
    assert [k["key"] for k in keys] == ["live-1"]


async def test_a_write_that_asks_for_its_id_alone_costs_four_statements(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    statements: StatementCounter,
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-statements")
    query = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
      __typename ... on RecordInteractionPayload { interactionId replayed }
      ... on Error { code message } } }"""
    variables = {"input": _input(made.id, idempotencyKey="statements-0001")}
    with statements.capture() as sent:
        first = await gql_data(anonymous, query, variables, token=agent)
    # The key's claim, the customer's lock, the interaction, then its event and the response
    # the key replays in one statement; nothing is read back that was not asked for.
    assert len(sent) == 4, "\n\n".join(sent)
    assert first["recordInteraction"]["replayed"] is False
    again = await gql_data(anonymous, query, variables, token=agent)
    assert again["recordInteraction"] == {**first["recordInteraction"], "replayed": True}
    interaction_id = decode_typed_id(first["recordInteraction"]["interactionId"], "Interaction")
    assert (
        await _count(
            endpoints,
            "SELECT count(*) FROM outbox WHERE customer_id = $1 AND topic = 'interaction.recorded'"
            " AND (payload->>'interactionId')::bigint = $2",
            made.id,
            interaction_id,
        )
        == 1
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"summary": "登录\u0000失败"}, "input.summary"),
        ({"staffCode": "S\u00000042"}, "input.staffCode"),
        ({"idempotencyKey": "key-\u0000-0001"}, "input.idempotencyKey"),
    ],
)
async def test_text_with_a_nul_character_is_invalid_input_and_writes_nothing(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    overrides: dict[str, Any],
    field: str,
) -> None:
    # PostgreSQL text cannot hold U+0000: without the check this was an internal error.
    made = await make_customer(engine)
    response = await anonymous.post(
        "/graphql",
        json={"query": RECORD, "variables": {"input": _input(made.id, **overrides)}},
        headers={"authorization": f"Bearer {mint(Role.AGENT, 'agent-nul')}"},
    )
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}
    assert "U+0000" in error["message"]
    counted = "SELECT count(*) FROM interactions WHERE customer_id = $1"
    assert await _count(endpoints, counted, made.id) == 0


CREATE_TASK = """mutation ($input: CreateTaskInput!) { createTask(input: $input) {
  __typename ... on Task { id ownerKind owner { ... on RelationshipManager { id } ... on StaffMember { subject } ... on WorkQueue { name } } } ... on InvalidInputError { field message } } }"""


async def _create_task(
    client: httpx.AsyncClient, mint: Minter, customer_id: int, owner: dict[str, str]
) -> dict[str, Any]:
    """An agent's follow-up task for the customer, with the owner fields given."""
    customer = encode_id("Customer", customer_id)
    task = {"customerId": customer, "kind": "FOLLOW_UP", "title": "回访", **owner}
    created = await gql_data(
        client, CREATE_TASK, {"input": task}, token=mint(Role.AGENT, "agent-owner")
    )
    result: dict[str, Any] = created["createTask"]
    return result


@pytest.mark.parametrize(
    ("owner", "field"),
    [
        ({"ownerKind": "STAFF", "owner": "  "}, "owner"),  # was stored as an empty owner
        ({"ownerKind": "STAFF", "owner": "x" * 101}, "owner"),  # was an internal error
        ({"ownerKind": "RM", "owner": "abc"}, "owner"),
        ({"ownerKind": "RM", "owner": "999999999"}, "owner"),  # no such RM
        ({"ownerKind": "QUEUE", "owner": "nowhere"}, "owner"),
        ({"owner": "agent-7"}, "ownerKind"),  # was silently ignored
    ],
)
async def test_a_task_owner_nobody_would_find_is_refused_and_nothing_is_written(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    owner: dict[str, str],
    field: str,
) -> None:
    made = await make_customer(engine)
    created = await _create_task(anonymous, mint, made.id, owner)
    assert created["__typename"] == "InvalidInputError"
    assert created["field"] == field
    assert (
        await _count(endpoints, "SELECT count(*) FROM tasks WHERE customer_id = $1", made.id) == 0
    )


@pytest.mark.parametrize(
    "due_at",
    [
        "9999-12-31T23:59:59-05:00",  # a placeholder: was stored, never overdue
        (datetime.now(UTC) + timedelta(days=6 * 366)).isoformat(),
        (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    ],
)
async def test_a_due_date_nobody_could_mean_is_refused_and_nothing_is_written(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    due_at: str,
) -> None:
    made = await make_customer(engine)
    created = await _create_task(anonymous, mint, made.id, {"dueAt": due_at})
    assert (created["__typename"], created["field"]) == ("InvalidInputError", "dueAt")
    assert (
        await _count(endpoints, "SELECT count(*) FROM tasks WHERE customer_id = $1", made.id) == 0
    )


async def test_a_task_due_within_five_years_is_opened(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    due = (datetime.now(UTC) + timedelta(days=4 * 365)).isoformat()
    assert (await _create_task(anonymous, mint, made.id, {"dueAt": due}))["__typename"] == "Task"


async def test_a_task_given_to_an_rm_by_id_is_in_that_rms_list(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    rm = await _count(endpoints, "SELECT min(id) FROM relationship_managers WHERE active")
    task = await _create_task(anonymous, mint, made.id, {"ownerKind": "RM", "owner": f"00{rm}"})
    owner = {"id": encode_id("RelationshipManager", rm)}
    assert (task["ownerKind"], task["owner"]) == ("RM", owner)  # as myTasks matches it
    by_global_id = await _create_task(
        anonymous, mint, made.id, {"ownerKind": "RM", "owner": owner["id"]}
    )
    assert by_global_id["owner"] == owner
    rm_token = mint(Role.RELATIONSHIP_MANAGER, "rm-owner", rm=rm)
    seen: list[str] = []
    after = None
    while True:  # every page: the seeded RM owns many tasks
        page = await gql_data(
            anonymous,
            """query ($after: String) { myTasks(first: 100, after: $after) {
            nodes { id } pageInfo { hasNextPage endCursor } } }""",
            {"after": after},
            token=rm_token,
        )
        seen += [n["id"] for n in page["myTasks"]["nodes"]]
        if not page["myTasks"]["pageInfo"]["hasNextPage"]:
            break
        after = page["myTasks"]["pageInfo"]["endCursor"]
    assert task["id"] in seen
