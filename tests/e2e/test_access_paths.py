"""Paths around the field policies and row rules that a review found, each closed: task results
and alert evidence unaudited, the counter's document check as an oracle, any RM by node, and
consents and counter visits recorded by anyone."""

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
from tests.graphql import gql, gql_data


async def _audit_of(endpoints: Endpoints, subject: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        return list(
            await conn.fetch(
                "SELECT customer_ids, fields, outcome FROM audit_records WHERE subject = $1 "
                "ORDER BY id",
                subject,
            )
        )
    finally:
        await conn.close()


def _gid(made: Made) -> str:
    return encode_id("Customer", made.id)


COMPLETE = """mutation ($input: CompleteTaskInput!) { completeTask(input: $input) {
  __typename ... on Task { status } } }"""


async def test_task_results_and_alert_evidence_are_read_under_policy_and_audited(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    owner = mint(Role.AGENT, "agent-owner")
    mine = await gql_data(
        anonymous, "{ myTasks(first: 100) { nodes { id customerId } } }", token=owner
    )
    (task,) = [t for t in mine["myTasks"]["nodes"] if t["customerId"] == _gid(made)]
    done = await gql_data(
        anonymous,
        COMPLETE,
        {"input": {"taskId": task["id"], "result": "已回访,确认新手机13100001111"}},
        token=owner,
    )
    assert done["completeTask"] == {"__typename": "Task", "status": "DONE"}

    # The owner reads the result back: one audit record naming the customer and the field.
    results = await gql_data(
        anonymous,
        "{ myTasks(first: 100, status: DONE) { nodes { customerId result } } }",
        token=owner,
    )
    assert {"customerId": _gid(made), "result": "已回访,确认新手机13100001111"} in results[
        "myTasks"
    ]["nodes"]
    last = (await _audit_of(endpoints, "agent-owner"))[-1]
    assert made.id in last["customer_ids"]
    assert "Task.result:clear" in last["fields"]

    # The customer's RM reads the closed alert's evidence and its task's result: audited too.
    rm = mint(Role.RELATIONSHIP_MANAGER, "alerts-rm", rm=made.rm_id)
    alerts = await gql_data(
        anonymous,
        """query ($id: ID!) { alerts(first: 5, filter: {customerId: $id, statuses: [CLOSED]}) {
          nodes { evidence task { result } } } }""",
        {"id": _gid(made)},
        token=rm,
    )
    (alert,) = alerts["alerts"]["nodes"]
    assert alert["evidence"]["amount"] == "880000.00"
    assert alert["task"]["result"] == "已回访,确认新手机13100001111"
    (record,) = await _audit_of(endpoints, "alerts-rm")
    assert list(record["customer_ids"]) == [made.id]
    assert {"Alert.evidence:clear", "Task.result:clear"} <= set(record["fields"])


async def test_a_customer_reads_no_rm_by_id(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)
    query = "query ($id: ID!) { node(id: $id) { id } }"
    rm_id = encode_id("RelationshipManager", made.rm_id or 0)
    customer = mint(Role.CUSTOMER, "curious-customer", cid=made.id)
    assert (await gql_data(anonymous, query, {"id": rm_id}, token=customer))["node"] is None
    agent = mint(Role.AGENT, "node-agent")
    assert (await gql_data(anonymous, query, {"id": rm_id}, token=agent))["node"] == {"id": rm_id}


SET_CONSENT = """mutation ($input: SetConsentInput!) { setConsent(input: $input) {
  __typename ... on Error { code } } }"""
OPEN = """mutation ($input: OpenCounterSessionInput!) { openCounterSession(input: $input) {
  __typename ... on Error { code } } }"""


def _consent(made: Made) -> dict[str, Any]:
    return {
        "input": {
            "customerId": _gid(made),
            "purpose": "MARKETING",
            "channel": "SMS",
            "granted": True,
        }
    }


def _document(made: Made, number: str | None = None) -> dict[str, Any]:
    return {
        "input": {
            "customerId": _gid(made),
            "documentType": "RESIDENT_ID",
            "documentNumber": number or made.resident_id,
        }
    }


async def test_consent_is_recorded_only_by_those_who_serve_the_customer(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)

    async def outcome(token: str) -> str:
        answer = (await gql_data(anonymous, SET_CONSENT, _consent(made), token=token))["setConsent"]
        return str(answer.get("code") or answer["__typename"])

    assert await outcome(mint(Role.RELATIONSHIP_MANAGER, "rm-other", rm=1)) == "FORBIDDEN"
    assert await outcome(mint(Role.RELATIONSHIP_MANAGER, "rm-own", rm=made.rm_id)) == "Consent"
    teller = mint(Role.TELLER, "consent-teller")
    assert await outcome(teller) == "FORBIDDEN"  # no verified session with this customer
    opened = await gql_data(anonymous, OPEN, _document(made), token=teller)
    assert opened["openCounterSession"]["__typename"] == "CounterSession"
    assert await outcome(teller) == "Consent"
    assert await outcome(mint(Role.AGENT, "consent-agent")) == "Consent"  # the caller's agent


RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on Error { code } ... on InvalidInputError { field } } }"""


async def test_a_teller_records_counter_visits_only(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    teller = mint(Role.TELLER, "labelling-teller")
    base = {
        "customerId": _gid(made),
        "kind": "INQUIRY",
        "occurredAt": datetime.now(UTC).isoformat(),
    }
    relabelled = await gql_data(
        anonymous, RECORD, {"input": {**base, "channel": "CALL_CENTER"}}, token=teller
    )
    assert relabelled["recordInteraction"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": "channel",
    }
    unverified = await gql_data(
        anonymous, RECORD, {"input": {**base, "channel": "COUNTER"}}, token=teller
    )
    assert unverified["recordInteraction"]["code"] == "COUNTER_SESSION_EXPIRED"


async def test_the_counter_check_takes_one_document_per_request_and_audits_each(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    teller = mint(Role.TELLER, "oracle-teller")
    wrong = made.resident_id[:-1] + ("0" if made.resident_id[-1] != "0" else "1")
    aliased = (
        "mutation ($a: OpenCounterSessionInput!, $b: OpenCounterSessionInput!) { "
        + " ".join(
            f"{alias}: openCounterSession(input: ${alias}) {{ __typename ... on Error {{ code }} }}"
            for alias in ("a", "b")
        )
        + " }"
    )
    body = await gql(
        anonymous,
        aliased,
        {"a": _document(made, wrong)["input"], "b": _document(made)["input"]},
        token=teller,
    )
    # The first is tried (and does not match, or it is an invalid number); the second is not.
    assert body["data"]["a"]["code"] in ("IDENTITY_NOT_VERIFIED", "INVALID_INPUT")
    assert body["data"]["b"] == {
        "__typename": "RuleViolationError",
        "code": "ONE_VERIFICATION_PER_REQUEST",
    }
    opened = await gql_data(anonymous, OPEN, _document(made), token=teller)
    assert opened["openCounterSession"]["__typename"] == "CounterSession"
    outcomes = [r["outcome"] for r in await _audit_of(endpoints, "oracle-teller")]
    assert outcomes[-1] == "verified"
    assert all(
        list(r["customer_ids"]) == [made.id] for r in await _audit_of(endpoints, "oracle-teller")
    )


async def test_a_teller_guessing_documents_is_locked_out(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made, other = await make_customer(engine), await make_customer(engine)
    teller = mint(Role.TELLER, "guessing-teller")
    # Valid resident ID numbers of other people: each one a guess that does not match.
    guesses = [m.resident_id for m in [other] + [await make_customer(engine) for _ in range(4)]]
    answers = [
        (await gql_data(anonymous, OPEN, _document(made, g), token=teller))["openCounterSession"]
        for g in guesses
    ]
    assert [a.get("code") for a in answers] == ["IDENTITY_NOT_VERIFIED"] * 4 + [
        "COUNTER_VERIFICATION_LOCKED"
    ]
    # Locked: even the right document is refused now, with how long to wait.
    locked = await gql_data(
        anonymous,
        """mutation ($input: OpenCounterSessionInput!) { openCounterSession(input: $input) {
          __typename ... on CounterVerificationLockedError { code retryAfter } } }""",
        _document(made),
        token=teller,
    )
    assert locked["openCounterSession"]["code"] == "COUNTER_VERIFICATION_LOCKED"
    assert 0 < locked["openCounterSession"]["retryAfter"] <= 900
    # Another teller, and this teller with another customer, are not locked.
    elsewhere = await gql_data(anonymous, OPEN, _document(other), token=teller)
    assert elsewhere["openCounterSession"]["__typename"] == "CounterSession"
    colleague = await gql_data(anonymous, OPEN, _document(made), token=mint(Role.TELLER, "t-2"))
    assert colleague["openCounterSession"]["__typename"] == "CounterSession"
    outcomes = [r["outcome"] for r in await _audit_of(endpoints, "guessing-teller")]
    assert outcomes == ["mismatch"] * 5 + ["locked_out", "verified"]
