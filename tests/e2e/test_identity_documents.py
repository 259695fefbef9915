"""Identity documents kept current: added, replaced when renewed, expired — validated as at
registration, never a second holder, every change in the history with the number masked."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.ops.seed import resident_id
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

RESULT = """__typename
  ... on CustomerChangedPayload { customerId
    customer { version documents { id type number issuingCountry expiresOn } } }
  ... on DuplicateDocumentError { field holder { id } }
  ... on InvalidInputError { field }
  ... on Error { code }"""
ADD = f"""mutation ($input: AddIdentityDocumentInput!) {{
  addIdentityDocument(input: $input) {{ {RESULT} }} }}"""
REPLACE = f"""mutation ($input: ReplaceIdentityDocumentInput!) {{
  replaceIdentityDocument(input: $input) {{ {RESULT} }} }}"""
EXPIRE = f"""mutation ($input: ExpireIdentityDocumentInput!) {{
  expireIdentityDocument(input: $input) {{ {RESULT} }} }}"""
OPEN_SESSION = """mutation ($input: OpenCounterSessionInput!) {
  openCounterSession(input: $input) { __typename } }"""


async def _fetch(endpoints: Endpoints, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _documents(endpoints: Endpoints, customer_id: int) -> list[tuple[Any, ...]]:
    rows = await _fetch(
        endpoints,
        "SELECT id, type, number_hmac, number_ciphertext, issuing_country, expires_on, "
        "number_key_id "
        "FROM identity_documents WHERE customer_id = $1 ORDER BY id",
        customer_id,
    )
    return [tuple(r) for r in rows]


async def _call(
    client: httpx.AsyncClient, mutation: str, token: str, value: dict[str, Any]
) -> dict[str, Any]:
    data = await gql_data(client, mutation, {"input": value}, token=token)
    answer: dict[str, Any] = next(iter(data.values()))
    if answer["__typename"] == "CustomerChangedPayload":
        return {"__typename": answer["__typename"], **(answer["customer"] or {})}
    return answer


def _passport(n: int) -> str:
    return f"E{n:08d}"


async def test_a_passport_is_added_renewed_and_expired_and_each_step_is_kept(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    crypto: DocumentCrypto,
    mint: Minter,
) -> None:
    made = await make_customer(engine, complete=True)
    gid = encode_id("Customer", made.id)
    steward = mint(Role.STEWARD, "doc-steward")
    first, renewed = _passport(made.id), _passport(made.id + 50_000_000)
    added = await _call(
        anonymous,
        ADD,
        steward,
        {
            "customerId": gid,
            "type": "PASSPORT",
            "number": f" {first.lower()} ",
            "expiresOn": "2030-01-01",
        },
    )
    assert added["__typename"] == "CustomerChangedPayload"
    assert added["version"] == 2
    passport = next(d for d in added["documents"] if d["type"] == "PASSPORT")
    assert passport["number"] == first  # normalized; a steward sees it clear
    replaced = await _call(
        anonymous,
        REPLACE,
        steward,
        {"documentId": passport["id"], "number": renewed, "expiresOn": "2036-01-01"},
    )
    assert replaced["__typename"] == "CustomerChangedPayload"
    (now,) = [d for d in replaced["documents"] if d["id"] == passport["id"]]
    assert (now["number"], now["expiresOn"]) == (renewed, "2036-01-01")
    expired = await _call(
        anonymous, EXPIRE, steward, {"documentId": passport["id"], "reason": "挂失"}
    )
    (gone,) = [d for d in expired["documents"] if d["id"] == passport["id"]]
    assert gone["expiresOn"] == date.today().isoformat()
    assert expired["version"] == 4
    # Stored sealed to the customer; the history holds the numbers masked only.
    rows = await _documents(endpoints, made.id)
    sealed = next(r for r in rows if r[1] == "passport")
    assert crypto.open("passport", sealed[6], sealed[3], made.id) == renewed
    history = await _fetch(
        endpoints,
        "SELECT field, old_value, new_value, reason FROM customer_changes "
        "WHERE customer_id = $1 AND field LIKE 'documents.%' ORDER BY id",
        made.id,
    )
    numbers = [
        (h["old_value"], h["new_value"]) for h in history if h["field"] == "documents.number"
    ]
    assert numbers == [
        (None, f"E****{first[-4:]}"),
        (f"E****{first[-4:]}", f"E****{renewed[-4:]}"),
    ]
    assert not any(first in str(tuple(h)) or renewed in str(tuple(h)) for h in history)
    assert history[-1]["reason"] == "挂失"
    topics = await _fetch(
        endpoints,
        "SELECT count(*) AS n FROM outbox WHERE customer_id = $1 AND topic = 'customer.changed'",
        made.id,
    )
    assert topics[0]["n"] == 3


async def test_bad_documents_are_refused_and_nothing_is_written(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    other = await make_customer(engine)
    gid = encode_id("Customer", made.id)
    steward = mint(Role.STEWARD, "doc-steward-2")
    before = await _documents(endpoints, made.id)
    (resident,) = [r for r in before if r[1] == "resident_id"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (ADD, {"customerId": gid, "type": "PASSPORT", "number": "E12"}, "input.number"),
        (
            ADD,
            {"customerId": gid, "type": "UNIFIED_SOCIAL_CREDIT_CODE", "number": "x"},
            "input.type",
        ),
        (
            ADD,
            {"customerId": gid, "type": "RESIDENT_ID", "number": other.resident_id},
            "input.type",
        ),
        (
            ADD,
            {"customerId": gid, "type": "PASSPORT", "number": "E77777777", "issuingCountry": "CHN"},
            "input.issuingCountry",
        ),
        (
            ADD,
            {
                "customerId": gid,
                "type": "PASSPORT",
                "number": "E77777777",
                "expiresOn": "2001-01-01",
            },
            "input.expiresOn",
        ),
        # A resident ID that encodes another birth date than the record's.
        (
            REPLACE,
            {
                "documentId": encode_id("IdentityDocument", resident[0]),
                "number": resident_id("110105", date(1999, 9, 9), 1),
            },
            "input.number",
        ),
        (
            REPLACE,
            {"documentId": encode_id("IdentityDocument", resident[0]), "number": "123"},
            "input.number",
        ),
    ]
    for mutation, value, field in cases:
        answer = await _call(anonymous, mutation, steward, value)
        assert (answer["__typename"], answer.get("field")) == ("InvalidInputError", field), value
    # The resident ID of someone else: DUPLICATE_DOCUMENT naming them (a steward may see them).
    taken = await _call(
        anonymous,
        REPLACE,
        steward,
        {"documentId": encode_id("IdentityDocument", resident[0]), "number": other.resident_id},
    )
    assert taken["__typename"] == "DuplicateDocumentError"
    assert taken["holder"]["id"] == encode_id("Customer", other.id)
    missing = await _call(
        anonymous, EXPIRE, steward, {"documentId": encode_id("IdentityDocument", 99_999_999)}
    )
    assert missing["__typename"] == "NotFoundError"
    assert await _documents(endpoints, made.id) == before
    history = await _fetch(
        endpoints, "SELECT count(*) AS n FROM customer_changes WHERE customer_id = $1", made.id
    )
    assert history[0]["n"] == 0


async def test_who_may_keep_documents(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    gid = encode_id("Customer", made.id)
    refused = {
        "agent": mint(Role.AGENT, "docwho-agent"),
        "teller without a session": mint(Role.TELLER, "docwho-teller-1"),
        "other rm": mint(Role.RELATIONSHIP_MANAGER, "docwho-rm-2", rm=1),
        "customer": mint(Role.CUSTOMER, "docwho-own", cid=made.id),
        "compliance": mint(Role.COMPLIANCE, "docwho-co"),
    }
    until = (date.today() + timedelta(days=3650)).isoformat()
    value = {
        "customerId": gid,
        "type": "PASSPORT",
        "number": _passport(made.id),
        "expiresOn": until,
    }
    for name, token in refused.items():
        answer = await _call(anonymous, ADD, token, value)
        assert answer["__typename"] == "ForbiddenError", name
    assert len(await _documents(endpoints, made.id)) == 1
    # A teller inside a verified counter session may: they hold the document.
    teller = mint(Role.TELLER, "docwho-teller-2")
    opened = await gql_data(
        anonymous,
        OPEN_SESSION,
        {
            "input": {
                "customerId": gid,
                "documentType": "RESIDENT_ID",
                "documentNumber": made.resident_id,
            }
        },
        token=teller,
    )
    assert opened["openCounterSession"]["__typename"] == "CounterSession"
    at_counter = await _call(anonymous, ADD, teller, value)
    assert at_counter["__typename"] == "CustomerChangedPayload"
    assert len(await _documents(endpoints, made.id)) == 2
    # The source system that keys the customer may, by its key; it reads no profile back.
    core = mint(Role.INTEGRATION, "docwho-core", client_id="core_banking")
    await _fetch(
        endpoints,
        "INSERT INTO customer_source_keys (customer_id, system, key, created_by) "
        "VALUES ($1, 'core_banking', $2, 'test')",
        made.id,
        f"CB-DOC-{made.id}",
    )
    corporate_kind = {
        "customerSourceKey": {"system": "core_banking", "key": f"CB-DOC-{made.id}"},
        "type": "PASSPORT",
        "number": _passport(made.id),
    }
    # One of each type: the passport is on file already, so the refusal names the type.
    again = await _call(anonymous, ADD, core, corporate_kind)
    assert (again["__typename"], again["field"]) == ("InvalidInputError", "input.type")
    expired = await gql_data(
        anonymous,
        EXPIRE,
        {
            "input": {
                "documentId": encode_id(
                    "IdentityDocument", (await _documents(endpoints, made.id))[-1][0]
                )
            }
        },
        token=core,
    )
    assert expired["expireIdentityDocument"] == {
        "__typename": "CustomerChangedPayload",
        "customerId": gid,
        "customer": None,
    }
