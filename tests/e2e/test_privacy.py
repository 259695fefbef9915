"""Consent by purpose and channel; erasure with and without a legal hold."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.embedded import Endpoints
from api.seed import asyncpg_dsn
from domain.access.principal import Role
from schema.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

SET = """mutation ($input: SetConsentInput!) { setConsent(input: $input) { __typename
  ... on Consent { purpose channel granted version source actor } ... on Error { code } } }"""
MINE = """{ me { ... on Customer { consents { purpose channel granted version } } } }"""
HOLD = """mutation ($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) { __typename
  ... on LegalHold { category until } ... on Error { code message } } }"""
ERASE = """mutation ($id: ID!) { eraseCustomerPersonalData(customerId: $id) { __typename
  ... on ErasurePayload { erased kept { category hold { reason until } } alreadyErased }
  ... on Error { code } } }"""
PROFILE = """query ($id: ID!) { customer(id: $id) { ... on Customer { displayName
  personal { birthDate occupation } contactPoints { value } documents { number }
  interactions(first: 5) { edges { node { summary } } } } } }"""


async def test_a_customer_changes_their_own_consent_and_each_change_is_a_version(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    me = mint(Role.CUSTOMER, "c-1", cid=made.id)
    grant = {"purpose": "MARKETING", "channel": "ALL", "granted": True}
    first = await gql_data(anonymous, SET, {"input": grant}, token=me)
    assert first["setConsent"] == {
        "__typename": "Consent",
        "purpose": "MARKETING",
        "channel": "ALL",
        "granted": True,
        "version": 1,
        "source": "unspecified",
        "actor": None,
    }
    await gql_data(anonymous, SET, {"input": {**grant, "granted": False}}, token=me)
    mine = await gql_data(anonymous, MINE, token=me)
    assert mine["me"]["consents"] == [
        {"purpose": "MARKETING", "channel": "ALL", "granted": False, "version": 2}
    ]
    # Another customer's consent is not theirs to change.
    other = await gql_data(
        anonymous,
        SET,
        {"input": {**grant, "customerId": encode_id("Customer", made.id + 1)}},
        token=me,
    )
    assert other["setConsent"] == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}


async def test_staff_record_consent_for_a_named_customer(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-9")
    missing = await gql_data(
        anonymous,
        SET,
        {"input": {"purpose": "PROFILING", "channel": "PHONE", "granted": True}},
        token=agent,
    )
    assert missing["setConsent"]["code"] == "INVALID_INPUT"
    recorded = await gql_data(
        anonymous,
        SET,
        {
            "input": {
                "purpose": "PROFILING",
                "channel": "PHONE",
                "granted": True,
                "customerId": encode_id("Customer", made.id),
            }
        },
        token=agent,
    )
    assert recorded["setConsent"]["actor"] == "agent-9"
    analyst = await gql_data(
        anonymous,
        SET,
        {
            "input": {
                "purpose": "PROFILING",
                "channel": "PHONE",
                "granted": True,
                "customerId": encode_id("Customer", made.id),
            }
        },
        token=mint(Role.ANALYST),
    )
    assert analyst["setConsent"]["code"] == "FORBIDDEN"


async def test_erasure_without_a_hold_anonymizes_everything_and_is_idempotent(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    endpoints: Endpoints,
) -> None:
    made = await make_customer(engine, name="将被删除", interactions=3)
    officer = mint(Role.COMPLIANCE, "co-7")
    gid = encode_id("Customer", made.id)
    first = await gql_data(anonymous, ERASE, {"id": gid}, token=officer)
    assert first["eraseCustomerPersonalData"] == {
        "__typename": "ErasurePayload",
        "erased": ["PROFILE", "CONTACT_POINTS", "DOCUMENTS", "INTERACTIONS"],
        "kept": [],
        "alreadyErased": False,
    }
    again = await gql_data(anonymous, ERASE, {"id": gid}, token=officer)
    assert again["eraseCustomerPersonalData"]["alreadyErased"] is True
    profile = (await gql_data(client, PROFILE, {"id": gid}))["customer"]
    assert profile["displayName"] == "已删除客户"
    assert profile["personal"] == {"birthDate": None, "occupation": None}
    assert profile["contactPoints"] == []
    assert profile["documents"] == []
    assert {e["node"]["summary"] for e in profile["interactions"]["edges"]} == {None}
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        outcomes = await conn.fetch(
            "SELECT outcome, fields FROM audit_records WHERE $1 = ANY(customer_ids) "
            "AND outcome = 'erased'",
            made.id,
        )
    finally:
        await conn.close()
    assert len(outcomes) == 2  # both calls audited


async def test_erasure_keeps_and_reports_what_a_legal_hold_retains(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, name="留存客户", interactions=2)
    officer = mint(Role.COMPLIANCE, "co-8")
    # Five years from today, whenever the suite runs: a fixed date becomes a past one.
    until = (date.today() + timedelta(days=5 * 365)).isoformat()
    gid = encode_id("Customer", made.id)
    placed = await gql_data(
        anonymous,
        HOLD,
        {
            "input": {
                "customerId": gid,
                "category": "DOCUMENTS",
                "reason": "反洗钱资料保存五年",
                "until": until,
            }
        },
        token=officer,
    )
    assert placed["placeLegalHold"] == {
        "__typename": "LegalHold",
        "category": "DOCUMENTS",
        "until": until,
    }
    past = await gql_data(
        anonymous,
        HOLD,
        {"input": {"customerId": gid, "reason": "x", "until": "2020-01-01"}},
        token=officer,
    )
    assert past["placeLegalHold"]["code"] == "INVALID_INPUT"
    report = (await gql_data(anonymous, ERASE, {"id": gid}, token=officer))[
        "eraseCustomerPersonalData"
    ]
    assert report["erased"] == ["PROFILE", "CONTACT_POINTS", "INTERACTIONS"]
    assert report["kept"] == [
        {"category": "DOCUMENTS", "hold": {"reason": "反洗钱资料保存五年", "until": until}}
    ]
    profile = (await gql_data(client, PROFILE, {"id": gid}))["customer"]
    assert profile["documents"] == [{"number": made.resident_id}]
    assert profile["contactPoints"] == []


async def test_only_compliance_erases(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    gid = encode_id("Customer", 1)
    for role in (Role.AGENT, Role.ADMIN, Role.RELATIONSHIP_MANAGER, Role.CUSTOMER):
        token = mint(role, "who", cid=1) if role is Role.CUSTOMER else mint(role, "who")
        data = await gql_data(anonymous, ERASE, {"id": gid}, token=token)
        assert data["eraseCustomerPersonalData"]["code"] == "FORBIDDEN", role
