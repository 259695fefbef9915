"""updateCustomer, the change history, and prospects: a record corrected against the version
read, every change kept (masked like its field), and a prospect converted by their first
product."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql, gql_data

UPDATE = """mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename
  ... on UpdateCustomerPayload { version changedFields
    customer { version displayName preferredLanguage personal { occupation employer
      creditStatus creditStatusSource } } }
  ... on VersionConflictError { currentVersion }
  ... on InvalidInputError { field }
  ... on Error { code } } }"""
HISTORY = """query ($id: ID!, $first: Int!, $after: String, $fields: [String!]) {
  customer(id: $id) { ... on Customer { version changeHistory(first: $first, after: $after,
    fields: $fields) { edges { cursor node { field oldValue newValue subjectId changedBy
      sourceSystem correlationId reason } } pageInfo { hasNextPage endCursor } } } } }"""
REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on RegisterCustomerPayload { customerId customer { lifecycleStatus version } }
  ... on InvalidInputError { field } ... on Error { code } } }"""
UPSERT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { change } ... on Error { code } } }"""
ADD_PHONE = """mutation ($input: AddContactPointInput!) { addContactPoint(input: $input) {
  __typename ... on Error { code } } }"""
CLAIM = """mutation ($c: ID!, $b: ID!) { claimCustomerOwnership(customerId: $c, branchId: $b,
  note: "walk-in prospect") { __typename ... on OwnershipClaim { status } ... on Error { code } } }"""
ASSIGN = """mutation ($c: ID!, $rm: ID!) { assignRelationshipManager(customerId: $c,
  relationshipManagerId: $rm, reason: "new prospect") { __typename
  ... on AssignRelationshipManagerPayload { changed } ... on Error { code message } } }"""
ERASE = """mutation ($id: ID!) { eraseCustomerPersonalData(customerId: $id) { __typename } }"""


async def _fetch(endpoints: Endpoints, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _state(endpoints: Endpoints, customer_id: int) -> tuple[Any, ...]:
    """Everything an update could write: the row, its history, its announcements."""
    (row,) = await _fetch(endpoints, "SELECT * FROM customers WHERE id = $1", customer_id)
    history = await _fetch(
        endpoints, "SELECT count(*) AS n FROM customer_changes WHERE customer_id = $1", customer_id
    )
    events = await _fetch(
        endpoints, "SELECT count(*) AS n FROM outbox WHERE customer_id = $1", customer_id
    )
    return dict(row), history[0]["n"], events[0]["n"]


async def _update(
    client: httpx.AsyncClient, token: str, made: Made, **fields: Any
) -> dict[str, Any]:
    value = {"customerId": encode_id("Customer", made.id), **fields}
    answer: dict[str, Any] = (await gql_data(client, UPDATE, {"input": value}, token=token))[
        "updateCustomer"
    ]
    return answer


async def test_a_steward_corrects_a_record_against_the_version_read_and_it_is_kept(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    steward = mint(Role.STEWARD, "steward-1")
    done = await _update(
        anonymous,
        steward,
        made,
        expectedVersion=1,
        reason="客户来电更正",
        preferredLanguage="zh-CN",
        personal={"occupation": " 高级  工程师 ", "employer": None},
    )
    assert done["__typename"] == "UpdateCustomerPayload"
    assert done["version"] == 2
    assert sorted(done["changedFields"]) == [
        "personal.employer",
        "personal.occupation",
        "preferredLanguage",
    ]
    assert done["customer"]["personal"]["occupation"] == "高级 工程师"
    assert done["customer"]["personal"]["employer"] is None
    assert done["customer"]["version"] == 2
    # The same values again change nothing: no new version, no history, no event.
    before = await _state(endpoints, made.id)
    same = await _update(
        anonymous, steward, made, expectedVersion=2, personal={"occupation": "高级 工程师"}
    )
    assert (same["version"], same["changedFields"]) == (2, [])
    assert await _state(endpoints, made.id) == before
    # A stale version is a CONFLICT carrying the current one, and nothing is written.
    stale = await _update(anonymous, steward, made, expectedVersion=1, displayName="别人")
    assert stale == {"__typename": "VersionConflictError", "currentVersion": 2, "code": "CONFLICT"}
    assert await _state(endpoints, made.id) == before
    # The history: newest first, each field with old and new value, who, why, which request.
    gid = encode_id("Customer", made.id)
    history = (await gql_data(anonymous, HISTORY, {"id": gid, "first": 10}, token=steward))[
        "customer"
    ]["changeHistory"]
    entries = {e["node"]["field"]: e["node"] for e in history["edges"]}
    assert entries["personal.occupation"]["oldValue"] == "工程师"
    assert entries["personal.occupation"]["newValue"] == "高级 工程师"
    assert entries["personal.employer"]["newValue"] is None
    assert entries["preferredLanguage"]["newValue"] == "zh-CN"
    assert {e["changedBy"] for e in entries.values()} == {"steward-1"}
    assert {e["reason"] for e in entries.values()} == {"客户来电更正"}
    assert all(len(e["correlationId"] or "") >= 16 for e in entries.values())
    events = await _fetch(
        endpoints,
        "SELECT topic, payload FROM outbox WHERE customer_id = $1 AND topic = 'customer.changed'",
        made.id,
    )
    assert len(events) == 1
    assert set(events[0]["payload"].split('"')) >= {"customerId", "fields"}
    assert "高级" not in events[0]["payload"]  # ids and field names only, never values


async def test_bad_changes_are_refused_on_their_field_and_nothing_is_written(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    steward = mint(Role.STEWARD, "steward-2")
    before = await _state(endpoints, made.id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"displayName": None}, "input.displayName"),
        ({"displayName": "   "}, "input.displayName"),
        ({"personal": {"birthDate": "1990-01-01"}}, "input.personal.birthDate"),  # not the ID's
        ({"personal": {"birthDate": "2199-01-01"}}, "input.personal.birthDate"),
        ({"personal": {"creditStatus": "DEFAULTED"}}, "input.personal.creditStatusSource"),
        (
            {"personal": {"creditStatus": None, "creditStatusSource": "x"}},
            "input.personal.creditStatus",
        ),
        ({"personal": {"occupation": "长" * 101}}, "input.personal.occupation"),
        ({"corporate": {"industry": "银行"}}, "input.corporate.industry"),  # not a company
        ({"homeBranchId": encode_id("Branch", 999_999)}, "input.homeBranchId"),
        ({"homeBranchId": "not-an-id"}, "input.homeBranchId"),
        ({"reason": "理" * 501}, "input.reason"),
    ]
    for change, field in cases:
        answer = await _update(anonymous, steward, made, expectedVersion=1, **change)
        assert (answer["__typename"], answer.get("field")) == ("InvalidInputError", field), change
    nul = await gql(
        anonymous,
        UPDATE,
        {"input": {"customerId": encode_id("Customer", made.id), "displayName": "a\u0000b"}},
        token=steward,
    )
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_INPUT", nul
    unknown = await gql_data(
        anonymous,
        UPDATE,
        {"input": {"customerId": encode_id("Customer", 99_999_999), "displayName": "x"}},
        token=steward,
    )
    assert unknown["updateCustomer"]["__typename"] == "NotFoundError"
    assert await _state(endpoints, made.id) == before


async def test_who_may_change_a_record(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    allowed = {
        "steward": mint(Role.STEWARD, "who-steward"),
        "admin": mint(Role.ADMIN, "who-admin"),
        "own rm": mint(Role.RELATIONSHIP_MANAGER, "who-rm", rm=made.rm_id),
    }
    refused = {
        "other rm": mint(Role.RELATIONSHIP_MANAGER, "who-rm-2", rm=1),
        "agent": mint(Role.AGENT, "who-agent"),
        "teller": mint(Role.TELLER, "who-teller"),
        "compliance": mint(Role.COMPLIANCE, "who-compliance"),
        "analyst": mint(Role.ANALYST, "who-analyst"),
        "customer": mint(Role.CUSTOMER, "who-own", cid=made.id),
        "unkeyed integration": mint(Role.INTEGRATION, "who-cards", client_id="cards"),
    }
    for name, token in refused.items():
        answer = await _update(anonymous, token, made, preferredLanguage="en")
        assert answer["__typename"] == "ForbiddenError", name
    assert (await _state(endpoints, made.id))[0]["version"] == 1
    for n, (name, token) in enumerate(allowed.items()):
        answer = await _update(anonymous, token, made, preferredLanguage=f"l{n}")
        assert answer["__typename"] == "UpdateCustomerPayload", name
    # An integration changes the customers keyed by its own system, by that key.
    core = mint(Role.INTEGRATION, "who-core", client_id="core_banking")
    key = {"system": "core_banking", "key": f"CB-WHO-{made.id}"}
    await _fetch(
        endpoints,
        "INSERT INTO customer_source_keys (customer_id, system, key, created_by) "
        "VALUES ($1, $2, $3, 'test')",
        made.id,
        key["system"],
        key["key"],
    )
    by_key = (
        await gql_data(
            anonymous,
            UPDATE,
            {"input": {"customerSourceKey": key, "personal": {"occupation": "会计"}}},
            token=core,
        )
    )["updateCustomer"]
    assert by_key["__typename"] == "UpdateCustomerPayload"
    assert by_key["customer"] is None  # an integration reads no profiles
    (entry,) = await _fetch(
        endpoints,
        "SELECT actor, source_system FROM customer_changes WHERE customer_id = $1 "
        "AND field = 'personal.occupation'",
        made.id,
    )
    assert (entry["actor"], entry["source_system"]) == ("who-core", "core_banking")


async def test_the_history_is_masked_like_its_fields_and_pages(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    gid = encode_id("Customer", made.id)
    steward = mint(Role.STEWARD, "mask-steward")
    await _update(anonymous, steward, made, personal={"occupation": "律师"})
    phone = "13912345678"
    added = await gql_data(
        anonymous,
        ADD_PHONE,
        {"input": {"kind": "PHONE", "value": phone}},
        token=mint(Role.CUSTOMER, "mask-own", cid=made.id),
    )
    assert added["addContactPoint"]["__typename"] == "Customer"

    async def history(token: str, **extra: Any) -> Any:
        found = await gql_data(anonymous, HISTORY, {"id": gid, "first": 10, **extra}, token=token)
        return found["customer"]["changeHistory"]

    def by_field(page: Any) -> dict[str, Any]:
        return {e["node"]["field"]: e["node"] for e in page["edges"]}

    clear = by_field(await history(mint(Role.RELATIONSHIP_MANAGER, "mask-rm", rm=made.rm_id)))
    assert clear["personal.occupation"]["newValue"] == "律师"
    assert clear["contactPoints.value"]["newValue"] == "+86" + phone
    assert clear["contactPoints.value"]["changedBy"] == "mask-own"
    # The call center: occupation hidden, the phone masked — as on the profile itself.
    agent = by_field(await history(mint(Role.AGENT, "mask-agent")))
    assert agent["personal.occupation"]["oldValue"] is None
    assert agent["personal.occupation"]["newValue"] is None
    masked = agent["contactPoints.value"]["newValue"]
    assert masked is not None
    assert masked != "+86" + phone
    assert masked.endswith(phone[-4:])
    # The customer does not see the bank's record of its own work.
    own = await gql_data(
        anonymous, HISTORY, {"id": gid, "first": 10}, token=mint(Role.CUSTOMER, "m", cid=made.id)
    )
    assert own["customer"]["changeHistory"] is None
    # Filtered by field (a part's prefix names its fields), and paged newest first.
    rm = mint(Role.RELATIONSHIP_MANAGER, "mask-rm", rm=made.rm_id)
    contacts = await history(rm, fields=["contactPoints"])
    assert {e["node"]["field"] for e in contacts["edges"]} == {"contactPoints.value"}
    first = await history(rm, first=1)
    assert first["pageInfo"]["hasNextPage"] is True
    second = await history(rm, first=1, after=first["pageInfo"]["endCursor"])
    assert first["edges"][0]["node"]["field"] == "contactPoints.value"
    assert second["edges"][0]["node"]["field"] == "personal.occupation"


async def test_a_prospect_becomes_a_customer_with_their_first_product(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, mint: Minter
) -> None:
    rm = mint(Role.RELATIONSHIP_MANAGER, "prospect-rm", rm=1)
    prospect = {
        "kind": "PERSONAL",
        "displayName": "潜在客户甲",
        "documents": [],
        "contactPoints": [{"kind": "PHONE", "value": "13955550001"}],
        "personal": {"occupation": "医生"},
        "prospect": True,
    }
    registered = (await gql_data(anonymous, REGISTER, {"input": prospect}, token=rm))[
        "registerCustomer"
    ]
    assert registered["__typename"] == "RegisterCustomerPayload"
    assert registered["customer"]["lifecycleStatus"] == "PROSPECT"
    # Only a prospect may come without documents.
    customer = {**prospect, "displayName": "无证件客户", "prospect": False}
    refused = (await gql_data(anonymous, REGISTER, {"input": customer}, token=rm))[
        "registerCustomer"
    ]
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", "input.documents")
    pk = int(
        (await _fetch(endpoints, "SELECT id FROM customers WHERE display_name = '潜在客户甲'"))[0][
            "id"
        ]
    )
    # A prospect is worked like any customer: a branch claims them, an RM is assigned.
    admin = mint(Role.ADMIN, "prospect-admin")
    branch = await _fetch(endpoints, "SELECT min(id) AS id FROM branches WHERE kind = 'sub_branch'")
    claimed = await gql_data(
        anonymous,
        CLAIM,
        {"c": registered["customerId"], "b": encode_id("Branch", branch[0]["id"])},
        token=admin,
    )
    assert claimed["claimCustomerOwnership"]["status"] == "OPEN"
    assigned = await gql_data(
        anonymous,
        ASSIGN,
        {"c": registered["customerId"], "rm": encode_id("RelationshipManager", 1)},
        token=admin,
    )
    assert assigned["assignRelationshipManager"]["changed"] is True
    core = mint(Role.INTEGRATION, "prospect-core", client_id="core_banking")
    holding = {
        "sourceRef": f"CORE-PROSPECT-{pk}",
        "customerId": registered["customerId"],
        "productCode": "TD-1Y",
        "accountNumber": f"6223{pk:012d}",
        "currency": "CNY",
        "balance": "10000.00",
        "status": "ACTIVE",
        "openedOn": date.today().isoformat(),
    }
    opened = (await gql_data(anonymous, UPSERT, {"input": holding}, token=core))["upsertHolding"]
    assert opened == {"__typename": "UpsertHoldingPayload", "change": "opened"}
    (row,) = await _fetch(
        endpoints,
        "SELECT lifecycle_status, converted_at, version FROM customers WHERE id = $1",
        pk,
    )
    assert row["lifecycle_status"] == "active"
    assert row["converted_at"] is not None
    assert row["version"] == 2
    changes = await _fetch(
        endpoints,
        "SELECT field, old_value, new_value, actor FROM customer_changes "
        "WHERE customer_id = $1 ORDER BY id",
        pk,
    )
    assert [tuple(c) for c in changes] == [
        ("lifecycleStatus", None, "prospect", "prospect-rm"),
        ("lifecycleStatus", "prospect", "active", "prospect-core"),
    ]
    topics = await _fetch(
        endpoints, "SELECT topic FROM outbox WHERE customer_id = $1 ORDER BY id", pk
    )
    assert [t["topic"] for t in topics] == [
        "customer.registered",
        "ownership.claimed",
        "relationship_manager.assigned",
        "customer.converted",
        "holding.opened",
    ]
    # A second product converts nothing again.
    second = {**holding, "sourceRef": f"CORE-PROSPECT-2-{pk}", "accountNumber": f"6224{pk:012d}"}
    await gql_data(anonymous, UPSERT, {"input": second}, token=core)
    (again,) = await _fetch(endpoints, "SELECT version FROM customers WHERE id = $1", pk)
    assert again["version"] == 2


async def test_erasure_clears_the_values_the_history_kept(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    await _update(
        anonymous,
        mint(Role.STEWARD, "erase-steward"),
        made,
        personal={"occupation": "秘密职业"},
        reason="自由文本原因",
    )
    erased = await gql_data(
        anonymous,
        ERASE,
        {"id": encode_id("Customer", made.id)},
        token=mint(Role.COMPLIANCE, "erase-officer"),
    )
    assert erased["eraseCustomerPersonalData"]["__typename"] == "ErasurePayload"
    rows = await _fetch(
        endpoints,
        "SELECT field, old_value, new_value, reason FROM customer_changes WHERE customer_id = $1",
        made.id,
    )
    assert rows
    assert all(r["old_value"] is None for r in rows)
    assert all(r["new_value"] is None for r in rows)
    assert all(r["reason"] is None for r in rows)
