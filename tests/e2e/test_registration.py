"""registerCustomer: a customer written whole, or not at all."""

from __future__ import annotations

import itertools
import random
from datetime import date
from typing import Any

import asyncpg
import httpx

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.ops.seed import credit_code, resident_id
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.graphql import gql_data

REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename
  ... on RegisterCustomerPayload { customerId replayed customer { displayName
    personal { birthDate } documents { number } contactPoints { value } } }
  ... on DuplicateDocumentError { field holder { id documents { number } } }
  ... on InvalidInputError { field }
  ... on Error { code } } }"""

_n = itertools.count(1)


def _person(name: str, **changes: Any) -> dict[str, Any]:
    n = next(_n)
    birth = date(1960, 1, 1).replace(year=1960 + n % 40, month=1 + n % 12)
    return {
        "kind": "PERSONAL",
        "displayName": name,
        "documents": [{"type": "RESIDENT_ID", "number": resident_id("310101", birth, 500 + n)}],
        "contactPoints": [
            {"kind": "PHONE", "value": f"139{80_000_000 + n:08d}", "preferred": True},
            {"kind": "ADDRESS", "value": "上海市黄浦区南京东路1号"},
        ],
        "personal": {"gender": "FEMALE", "occupation": "教师"},
        **changes,
    }


async def _register(client: httpx.AsyncClient, token: str, value: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = (await gql_data(client, REGISTER, {"input": value}, token=token))[
        "registerCustomer"
    ]
    return answer


async def _customers_named(endpoints: Endpoints, name: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        return list(
            await conn.fetch("SELECT id, code FROM customers WHERE display_name = $1", name)
        )
    finally:
        await conn.close()


async def test_a_teller_registers_a_person_whole(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, crypto: DocumentCrypto, mint: Minter
) -> None:
    draft = _person("登记测试一")
    answer = await _register(anonymous, mint(Role.TELLER, "register-teller"), draft)
    assert answer["__typename"] == "RegisterCustomerPayload"
    assert answer["replayed"] is False
    number = draft["documents"][0]["number"]
    # The birth date comes from the resident ID; the teller (no session yet) sees it masked.
    assert answer["customer"]["displayName"] == "登记测试一"
    assert answer["customer"]["documents"][0]["number"] != number
    (row,) = await _customers_named(endpoints, "登记测试一")
    assert row["code"] == f"P{row['id']:09d}"
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        birth = await conn.fetchval("SELECT birth_date FROM customers WHERE id = $1", row["id"])
        document = await conn.fetchrow(
            "SELECT type, number_key_id, number_ciphertext FROM identity_documents "
            "WHERE customer_id = $1",
            row["id"],
        )
        phones = await conn.fetch(
            "SELECT value, is_preferred FROM contact_points WHERE customer_id = $1 "
            "AND kind = 'phone'",
            row["id"],
        )
        events = await conn.fetch(
            "SELECT topic FROM outbox WHERE customer_id = $1 ORDER BY id", row["id"]
        )
        audit = await conn.fetch(
            "SELECT outcome FROM audit_records WHERE subject = 'register-teller' "
            "AND $1 = ANY(customer_ids) ORDER BY id",
            row["id"],
        )
    finally:
        await conn.close()
    assert birth == date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert document is not None
    assert (
        crypto.open(
            document["type"], document["number_key_id"], document["number_ciphertext"], row["id"]
        )
        == number
    )
    assert [(p["value"], p["is_preferred"]) for p in phones] == [
        ("+86" + draft["contactPoints"][0]["value"], True)
    ]
    assert [e["topic"] for e in events] == ["customer.registered"]
    assert [a["outcome"] for a in audit] == ["registered", "returned"]


async def test_bad_input_is_refused_on_its_field_and_nothing_is_written(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, mint: Minter
) -> None:
    agent = mint(Role.AGENT, "register-agent")
    rng = random.Random(7)
    cases: list[tuple[dict[str, Any], str]] = [
        (_person("拒绝一", personal={"birthDate": "1970-01-01"}), "input.personal.birthDate"),
        (_person("拒绝二", documents=[]), "input.documents"),
        (
            _person("拒绝三", documents=[{"type": "RESIDENT_ID", "number": "110101199003071235"}]),
            "input.documents[0].number",
        ),
        (
            _person("拒绝四", contactPoints=[{"kind": "PHONE", "value": "12345"}]),
            "input.contactPoints[0].value",
        ),
        (
            _person(
                "拒绝五",
                contactPoints=[
                    {"kind": "PHONE", "value": "13900000001", "preferred": True},
                    {"kind": "PHONE", "value": "13900000002", "preferred": True},
                ],
            ),
            "input.contactPoints[1].preferred",
        ),
        (
            {
                "kind": "CORPORATE",
                "displayName": "拒绝六",
                "documents": [],
                "corporate": {"registeredName": "拒绝六有限公司"},
            },
            "input.documents",
        ),
        (
            {
                "kind": "CORPORATE",
                "displayName": "拒绝七",
                "documents": [
                    {"type": "UNIFIED_SOCIAL_CREDIT_CODE", "number": credit_code(rng, "310101")}
                ],
            },
            "input.corporate",
        ),
        (_person("拒绝八", homeBranchId=encode_id("Branch", 987_654)), "input.homeBranchId"),
    ]
    for draft, field in cases:
        answer = await _register(anonymous, agent, draft)
        assert (answer.get("code"), answer.get("field")) == ("INVALID_INPUT", field), draft
        assert await _customers_named(endpoints, draft["displayName"]) == [], draft


async def test_a_company_registers_with_its_uscc(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    rng = random.Random(11)
    answer = await _register(
        anonymous,
        mint(Role.RELATIONSHIP_MANAGER, "register-rm", rm=1),
        {
            "kind": "CORPORATE",
            "displayName": "登记测试科技",
            "documents": [
                {"type": "UNIFIED_SOCIAL_CREDIT_CODE", "number": credit_code(rng, "440305")}
            ],
            "corporate": {"registeredName": "登记测试科技有限公司", "industry": "软件"},
            "contactPoints": [{"kind": "EMAIL", "value": "Finance@Example.COM"}],
        },
    )
    assert answer["__typename"] == "RegisterCustomerPayload"
    # Stored with its domain lower-cased; not in this RM's portfolio (no RM yet): masked.
    assert answer["customer"]["contactPoints"] == [{"value": "F***@example.com"}]


async def test_a_document_that_identifies_someone_is_refused(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, mint: Minter
) -> None:
    agent = mint(Role.AGENT, "register-dup")
    first = _person("重复一")
    created = await _register(anonymous, agent, first)
    again = await _register(anonymous, agent, _person("重复二", documents=first["documents"]))
    assert again["code"] == "DUPLICATE_DOCUMENT"
    assert again["field"] == "input.documents[0].number"
    assert again["holder"]["id"] == created["customerId"]  # where the caller may see them
    assert again["holder"]["documents"][0]["number"] != first["documents"][0]["number"]
    assert await _customers_named(endpoints, "重复二") == []


async def test_a_source_system_registers_by_its_key_and_a_replay_writes_nothing(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, mint: Minter
) -> None:
    core = mint(Role.INTEGRATION, "register-core", client_id="core_banking")
    draft = _person("源系统登记")
    refused = await _register(anonymous, core, draft)
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "input.sourceKey")
    keyed = {**draft, "sourceKey": {"system": "core_banking", "key": "CB-REG-0001"}}
    first = await _register(anonymous, core, keyed)
    assert (first["replayed"], first["customer"]) == (False, None)  # integrations read no profiles
    again = await _register(anonymous, core, keyed)
    assert (again["customerId"], again["replayed"]) == (first["customerId"], True)
    assert len(await _customers_named(endpoints, "源系统登记")) == 1
    other = {**draft, "sourceKey": {"system": "cards", "key": "C-REG-1"}}
    assert (await _register(anonymous, core, other))["code"] == "FORBIDDEN"
