"""Source cross-references: a customer named by its key in core banking, the card system…"""

from __future__ import annotations

from datetime import UTC, datetime
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
from tests.graphql import gql_data

LINK = """mutation ($input: LinkCustomerSourceKeyInput!) { linkCustomerSourceKey(input: $input) {
  __typename ... on LinkCustomerSourceKeyPayload { customerId created }
  ... on Error { code } ... on InvalidInputError { field } } }"""
RESOLVE = """query ($system: String!, $key: String!) { customerBySourceKey(system: $system, key: $key) {
  __typename ... on CustomerReference { id code customer { displayName documents { number } } }
  ... on Error { code } ... on InvalidInputError { field } } }"""
UPSERT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { holdingId change } ... on Error { code }
  ... on InvalidInputError { field } } }"""
FUND = """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on Error { code } ... on InvalidInputError { field } } }"""
RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId } ... on Error { code }
  ... on InvalidInputError { field } } }"""


def _core(mint: Minter) -> str:
    return mint(Role.INTEGRATION, "core-feed", client_id="core_banking")


def _link(made: Made, system: str, key: str) -> dict[str, Any]:
    return {
        "input": {
            "customerId": encode_id("Customer", made.id),
            "sourceKey": {"system": system, "key": key},
        }
    }


async def _rows(endpoints: Endpoints, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_a_source_system_links_its_keys_and_no_other(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made, other = await make_customer(engine), await make_customer(engine)
    core = _core(mint)
    key = f"CB{made.id:010d}"

    async def link(variables: dict[str, Any], token: str = core) -> dict[str, Any]:
        answer: dict[str, Any] = (await gql_data(anonymous, LINK, variables, token=token))[
            "linkCustomerSourceKey"
        ]
        return answer

    first = await link(_link(made, "core_banking", key))
    assert first == {
        "__typename": "LinkCustomerSourceKeyPayload",
        "customerId": encode_id("Customer", made.id),
        "created": True,
    }
    assert (await link(_link(made, "core_banking", key)))["created"] is False  # a replay
    # The key names this customer already: not another one.
    assert (await link(_link(other, "core_banking", key)))["code"] == "SOURCE_KEY_TAKEN"
    # Core banking does not speak for the card system; an admin may.
    assert (await link(_link(made, "cards", "C-1")))["code"] == "FORBIDDEN"
    assert (await link(_link(made, "cards", "C-1"), mint(Role.ADMIN)))["created"] is True
    bad = await link(_link(made, "Core Banking", "x"))
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "sourceKey.system")
    assert (await link(_link(made, "core_banking", " ")))["field"] == "sourceKey.key"
    gone = {"input": {**_link(made, "core_banking", "CB-X")["input"]}}
    gone["input"]["customerId"] = encode_id("Customer", 987_654_321)
    assert (await link(gone))["code"] == "NOT_FOUND"
    # Nothing of the refusals was written: the two keys linked, and only those.
    rows = await _rows(
        endpoints,
        "SELECT customer_id, system, key FROM customer_source_keys "
        "WHERE customer_id = ANY($1) ORDER BY id",
        [made.id, other.id],
    )
    assert [tuple(r) for r in rows] == [(made.id, "core_banking", key), (made.id, "cards", "C-1")]


async def test_a_key_resolves_to_the_id_and_code_and_the_profile_where_allowed(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    core = _core(mint)
    key = f"CB{made.id:010d}"
    await gql_data(anonymous, LINK, _link(made, "core_banking", key), token=core)
    variables = {"system": "core_banking", "key": key}
    # An integration: the id and the code, never the profile.
    resolved = (await gql_data(anonymous, RESOLVE, variables, token=core))["customerBySourceKey"]
    assert resolved == {
        "__typename": "CustomerReference",
        "id": encode_id("Customer", made.id),
        "code": made.code,
        "customer": None,
    }
    # An agent: the profile too, masked as everywhere.
    agent = mint(Role.AGENT, "resolving-agent")
    seen = (await gql_data(anonymous, RESOLVE, variables, token=agent))["customerBySourceKey"]
    assert seen["customer"]["displayName"] == "测试客户"
    assert seen["customer"]["documents"][0]["number"] != made.resident_id
    # Each resolution is audited; the profile it asked for, refused by the row rule, too.
    rows = await _rows(
        endpoints,
        "SELECT outcome, fields FROM audit_records WHERE subject = 'core-feed' "
        "AND $1 = ANY(customer_ids) ORDER BY id",
        made.id,
    )
    assert [(r["outcome"], list(r["fields"])) for r in rows] == [
        ("resolved", ["Customer.code:clear"]),
        ("denied", []),
    ]
    unknown = {"system": "core_banking", "key": "NO-SUCH-KEY"}
    missing = (await gql_data(anonymous, RESOLVE, unknown, token=core))["customerBySourceKey"]
    assert missing == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


async def test_writes_name_the_customer_by_source_key(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    core = _core(mint)
    key = f"CB{made.id:010d}"
    await gql_data(anonymous, LINK, _link(made, "core_banking", key), token=core)
    holding = {
        "sourceRef": f"CORE-SK-{made.id}",
        "customerSourceKey": {"system": "core_banking", "key": key},
        "productCode": "TD-1Y",
        "accountNumber": f"6223{made.id:012d}",
        "currency": "CNY",
        "balance": "5000.00",
        "status": "ACTIVE",
        "openedOn": "2026-01-05",
    }
    opened = (await gql_data(anonymous, UPSERT, {"input": holding}, token=core))["upsertHolding"]
    assert opened["change"] == "opened"
    owners = await _rows(
        endpoints, "SELECT customer_id FROM holdings WHERE source_ref = $1", holding["sourceRef"]
    )
    assert [r["customer_id"] for r in owners] == [made.id]
    # Neither, or both: the customer must be named exactly once; an unknown key is NOT_FOUND.
    neither = {k: v for k, v in holding.items() if k != "customerSourceKey"}
    both = {**holding, "customerId": encode_id("Customer", made.id)}
    unknown = {
        **holding,
        "sourceRef": f"CORE-SK-X-{made.id}",
        "customerSourceKey": {"system": "core_banking", "key": "NO-SUCH-KEY"},
    }
    for record, code in (
        (neither, "INVALID_INPUT"),
        (both, "INVALID_INPUT"),
        (unknown, "NOT_FOUND"),
    ):
        answer = (await gql_data(anonymous, UPSERT, {"input": record}, token=core))["upsertHolding"]
        assert answer["code"] == code, record
    assert (
        await _rows(
            endpoints, "SELECT id FROM holdings WHERE source_ref = $1", unknown["sourceRef"]
        )
        == []
    )
    # A channel records an interaction the same way.
    recorded = await gql_data(
        anonymous,
        RECORD,
        {
            "input": {
                "customerSourceKey": {"system": "core_banking", "key": key},
                "channel": "CALL_CENTER",
                "kind": "INQUIRY",
                "occurredAt": datetime.now(UTC).isoformat(),
            }
        },
        token=mint(Role.AGENT, "sk-agent"),
    )
    assert recorded["recordInteraction"]["__typename"] == "RecordInteractionPayload"
    # A fund movement names its account by the reference core banking gave it.
    movement = {
        "holdingSourceRef": holding["sourceRef"],
        "amount": "120.00",
        "currency": "CNY",
        "direction": "CREDIT",
        "counterpartyKind": "OTHER_BANK",
        "channel": "WEB_BANKING",
        "bookedAt": datetime.now(UTC).isoformat(),
        "externalRef": f"CORE-SK-MV-{made.id}",
    }
    moved = (await gql_data(anonymous, FUND, {"input": movement}, token=core))["recordFundMovement"]
    assert moved["__typename"] == "RecordFundMovementPayload"
    booked = await _rows(
        endpoints,
        "SELECT h.source_ref FROM fund_movements m JOIN holdings h ON h.id = m.holding_id "
        "WHERE m.external_ref = $1",
        movement["externalRef"],
    )
    assert [r["source_ref"] for r in booked] == [holding["sourceRef"]]
    for wrong, field in (
        ({**movement, "holdingSourceRef": "NO-SUCH-REF"}, "holdingSourceRef"),
        ({**movement, "holdingId": encode_id("Holding", 1)}, "holdingId"),  # both
        ({k: v for k, v in movement.items() if k != "holdingSourceRef"}, "holdingId"),  # neither
    ):
        refused = (await gql_data(anonymous, FUND, {"input": wrong}, token=core))[
            "recordFundMovement"
        ]
        assert refused["field"] == field, wrong
