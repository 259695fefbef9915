"""Event detection end to end: a write over GraphQL, the outbox, the relay, the Redis Stream,
the worker's consumer group, alerts and contact tasks — and back out through GraphQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import build_worker
from api.db.detection_rules import SqlDetectionRuleStore
from api.redis.events import STREAM
from api.settings import Settings
from api.worker.loop import Worker
from domain.access.principal import Role
from domain.contact_planning import DUE_BY_SEVERITY, SOONEST, TIER_FACTOR
from domain.detection.handling import DetectionReport
from domain.detection.rules import RuleKind, Severity
from domain.ids import decode_typed_id, encode_id
from domain.value.tiers import ValueTier
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

FUND = """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on RecordFundMovementPayload { movementId } ... on Error { code } } }"""
RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId task { id } }
  ... on Error { code } } }"""
OPEN_TASKS = """query ($id: ID!) { customer(id: $id) { ... on Customer { openTasks { id } } } }"""
ALERTS = """query ($filter: AlertFilterInput) { alerts(first: 50, filter: $filter) {
  nodes { id rule severity status evidence customerId acknowledgedBy firedAt
          task { id kind status ownerKind owner { ... on RelationshipManager { id } }
                 dueAt plannedChannel } } } }"""
CUSTOMER_ALERTS = """query ($id: ID!) { customer(id: $id) { ... on Customer {
  alerts { rule status } relationship { pendingProposal { toState reasonCode proposedBy } } } } }"""
ACK = """mutation ($id: ID!) { acknowledgeAlert(id: $id) {
  __typename ... on Alert { status acknowledgedBy } ... on Error { code } } }"""
COMPLETE = """mutation ($input: CompleteTaskInput!) { completeTask(input: $input) {
  __typename ... on Task { status } ... on Error { code } } }"""


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_worker(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    group: str,
    consumer: str = "c1",
    claim_idle_ms: int = 60_000,
) -> Worker:
    # Its own group, starting at "$": it sees this test's events, not the whole suite's.
    return build_worker(
        settings,
        engine,
        redis,
        http,
        consumer=consumer,
        group=group,
        start_id="$",
        block_ms=200,
        claim_idle_ms=claim_idle_ms,
        schedule=False,
    )


@pytest_asyncio.fixture
async def worker(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, http: httpx.AsyncClient
) -> Worker:
    created = make_worker(settings, engine, redis_client, http, f"test-{uuid.uuid4().hex[:8]}")
    await created.ensure_group()
    return created


async def _published(engine: AsyncEngine, customer_id: int) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text("SELECT count(*) FROM outbox WHERE customer_id = :c AND published_at IS NULL"),
            {"c": customer_id},
        )
    return bool(waiting == 0)


async def _caught_up(worker: Worker) -> bool:
    """The worker's group has been handed every message in the stream and acknowledged it."""
    stream: Any = await worker.redis.xinfo_stream(STREAM)
    groups: Any = await worker.redis.xinfo_groups(STREAM)
    (mine,) = [g for g in groups if g["name"] == worker.group.encode()]
    return bool(mine["pending"] == 0 and mine["last-delivered-id"] == stream["last-generated-id"])


async def drain(worker: Worker, engine: AsyncEngine, customer_id: int) -> DetectionReport:
    """Process batches until every event of the customer's so far has been handled.

    Waits on that condition, not on a count of alerts: a check that no alert was raised
    would otherwise pass whenever the relay had not yet published the event."""
    total = DetectionReport()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        published = await _published(engine, customer_id)
        total.add(await worker.process_once())
        if published and await _caught_up(worker):
            return total
    raise AssertionError(f"the events of customer {customer_id} were not handled within 60 s")


async def _deposit_holding(engine: AsyncEngine, customer_id: int) -> int:
    async with engine.connect() as conn:
        holding_id: int = await conn.scalar(
            text("SELECT id FROM holdings WHERE customer_id = :c ORDER BY id LIMIT 1"),
            {"c": customer_id},
        )
    return holding_id


async def _move(
    client: httpx.AsyncClient,
    token: str,
    holding_id: int,
    amount: str,
    direction: str,
    booked_at: datetime,
) -> int:
    answer = await gql_data(
        client,
        FUND,
        {
            "input": {
                "holdingId": encode_id("Holding", holding_id),
                "amount": amount,
                "currency": "CNY",
                "direction": direction,
                "counterpartyKind": "OTHER_BANK",
                "channel": "WEB_BANKING",
                "bookedAt": booked_at.isoformat(),
                "externalRef": f"T-{uuid.uuid4().hex}",
            }
        },
        token=token,
    )
    assert answer["recordFundMovement"]["__typename"] == "RecordFundMovementPayload", answer
    return decode_typed_id(answer["recordFundMovement"]["movementId"], "FundMovement")


async def _alerts_of(client: httpx.AsyncClient, customer_id: int) -> list[dict[str, Any]]:
    found = await gql_data(
        client,
        ALERTS,
        {
            "filter": {
                "customerId": encode_id("Customer", customer_id),
                "statuses": ["OPEN", "ACKNOWLEDGED", "CLOSED"],
            }
        },
    )
    nodes: list[dict[str, Any]] = found["alerts"]["nodes"]
    return nodes


async def test_movements_raise_large_movement_and_balance_drop_alerts_with_their_evidence(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
) -> None:
    made = await make_customer(engine)  # two deposit holdings of 1,000.00 CNY, RM 1
    holding = await _deposit_holding(engine, made.id)
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    start = datetime.now(UTC) - timedelta(minutes=1)
    for i in range(4):
        await _move(anonymous, core, holding, "100.00", "CREDIT", start + timedelta(seconds=i))
    # Typical so far 100.00: exactly 10× is not above it; deposits fell 600 of 2,600 (23%).
    await _move(anonymous, core, holding, "1000.00", "DEBIT", start + timedelta(seconds=5))
    quiet = await drain(worker, engine, made.id)
    assert quiet.alerts == []
    assert await _alerts_of(client, made.id) == []

    # Typical is now (400 + 1,000) / 5 = 280.00; 2,800.01 is above 10×, and deposits fell
    # 3,400.01 of 5,400.01 (63%) within the 30-day window.
    big = await _move(anonymous, core, holding, "2800.01", "DEBIT", start + timedelta(seconds=6))
    report = await drain(worker, engine, made.id)
    assert len(report.alerts) == 2

    alerts = {a["rule"]: a for a in await _alerts_of(client, made.id)}
    large = alerts["LARGE_FUND_MOVEMENT"]
    assert large["severity"] == "HIGH"
    assert large["status"] == "OPEN"
    assert large["evidence"] | {} == {
        "movementId": encode_id("FundMovement", big),
        "holdingId": encode_id("Holding", holding),
        "amount": "2800.01",
        "currency": "CNY",
        "direction": "debit",
        "absoluteAmount": "500000.0",
        "typicalAmount": "280.00",
        "typicalMultiple": "10.0",
        "earlierMovements": 5,
        "lookbackDays": 90,
        "reasons": ["above_typical_multiple"],
    }
    drop = alerts["BALANCE_DROP"]["evidence"]
    assert (drop["depositsNow"], drop["netOutflow"], drop["dropPercent"]) == (
        "2000.00",
        "3400.01",
        "63.0",
    )
    # Each alert opened a contact task for the customer's RM.
    for alert in alerts.values():
        assert alert["task"]["kind"] == "CONTACT"
        assert (alert["task"]["ownerKind"], alert["task"]["owner"]) == (
            "RM",
            {"id": encode_id("RelationshipManager", 1)},
        )
        assert alert["task"]["status"] == "OPEN"


async def test_the_same_event_never_alerts_twice_and_a_rule_cools_down(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
    redis_client: aioredis.Redis,
) -> None:
    made = await make_customer(engine)
    holding = await _deposit_holding(engine, made.id)
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    now = datetime.now(UTC)
    await _move(anonymous, core, holding, "600000.00", "CREDIT", now - timedelta(seconds=3))
    first = await drain(worker, engine, made.id)
    assert len(first.alerts) == 1

    # The same stream message delivered again (at-least-once): its dedupe key is taken.
    messages: Any = await redis_client.xrevrange(STREAM, count=200)
    mine = [
        (message_id, fields)
        for message_id, fields in messages
        if b'"fund_movement.recorded"' in fields[b"event"]
        and f'"customerId":{made.id},'.encode() in fields[b"event"]
    ]
    assert len(mine) == 1
    again = await worker.handle(mine)
    assert (again.alerts, again.duplicates) == ([], 1)

    # Another large movement within the rule's 24-hour cooldown stays quiet...
    await _move(anonymous, core, holding, "700000.00", "CREDIT", now - timedelta(seconds=2))
    cooled = await drain(worker, engine, made.id)
    assert (cooled.alerts, cooled.cooled_down) == ([], 1)
    assert len(await _alerts_of(client, made.id)) == 1


async def test_a_worker_killed_mid_batch_loses_no_event_and_duplicates_no_alert(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    settings: Settings,
    redis_client: aioredis.Redis,
    http: httpx.AsyncClient,
) -> None:
    group = f"test-{uuid.uuid4().hex[:8]}"
    doomed = make_worker(settings, engine, redis_client, http, group, consumer="doomed")
    survivor = make_worker(
        settings, engine, redis_client, http, group, consumer="survivor", claim_idle_ms=0
    )
    await doomed.ensure_group()
    customers = [await make_customer(engine) for _ in range(3)]
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    for made in customers:
        holding = await _deposit_holding(engine, made.id)
        await _move(anonymous, core, holding, "900000.00", "CREDIT", datetime.now(UTC))

    # The doomed worker reads the batch, then dies before handling or acknowledging it.
    taken: list[tuple[bytes, dict[bytes, bytes]]] = []
    deadline = asyncio.get_running_loop().time() + 10
    while len(taken) < 3 and asyncio.get_running_loop().time() < deadline:
        taken += await doomed.read()
    assert len(taken) >= 3
    pending = await redis_client.xpending(STREAM, group)
    assert pending["pending"] == len(taken)

    # The survivor claims the abandoned messages and raises each alert once.
    report = await survivor.process_once()
    assert len(report.alerts) == 3
    assert (await redis_client.xpending(STREAM, group))["pending"] == 0

    # Had the doomed worker committed its alerts before dying (acknowledging nothing), its
    # redelivery would find every dedupe key taken.
    replay = await doomed.handle(taken)
    assert (replay.alerts, replay.duplicates) == ([], 3)
    for made in customers:
        assert [a["rule"] for a in await _alerts_of(client, made.id)] == ["LARGE_FUND_MOVEMENT"]


async def test_a_contact_is_planned_from_severity_tier_and_the_consented_channel(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
) -> None:
    """Issue 23: every contact task was due after a fixed 3 days, by no particular method."""
    made = await make_customer(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE customers SET preferred_channel = 'mobile_app' WHERE id = :c"),
            {"c": made.id},
        )
        tier = await conn.scalar(
            text(
                "SELECT tier FROM customer_values WHERE customer_id = :c "
                "ORDER BY period DESC LIMIT 1"
            ),
            {"c": made.id},
        )
    consent = await gql_data(
        anonymous,
        """mutation ($input: SetConsentInput!) { setConsent(input: $input) { __typename } }""",
        {"input": {"purpose": "MARKETING", "channel": "MOBILE_APP", "granted": True}},
        token=mint(Role.CUSTOMER, "self", cid=made.id),
    )
    assert consent["setConsent"]["__typename"] == "Consent"
    holding = await _deposit_holding(engine, made.id)
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    start = datetime.now(UTC) - timedelta(minutes=1)
    for i in range(5):
        await _move(anonymous, core, holding, "100.00", "CREDIT", start + timedelta(seconds=i))
    await _move(anonymous, core, holding, "5000.00", "DEBIT", start + timedelta(seconds=6))
    assert (await drain(worker, engine, made.id)).alerts
    alerts = await _alerts_of(client, made.id)
    assert alerts
    factor = 1.0 if tier is None else TIER_FACTOR[ValueTier(tier)]
    for alert in alerts:
        fired = datetime.fromisoformat(alert["firedAt"])
        due = datetime.fromisoformat(alert["task"]["dueAt"])
        wanted = max(SOONEST, DUE_BY_SEVERITY[Severity(alert["severity"].lower())] * factor)
        assert due - fired == wanted, (alert["rule"], alert["severity"], tier)
        assert alert["task"]["plannedChannel"] == "MOBILE_APP"  # preferred and consented


async def test_a_complaint_alert_is_acknowledged_and_closed_by_completing_its_task(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "agent-7")
    recorded = await gql_data(
        anonymous,
        RECORD,
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "channel": "CALL_CENTER",
                "kind": "COMPLAINT",
                "occurredAt": datetime.now(UTC).isoformat(),
                "summary": "转账延迟到账",
            }
        },
        token=agent,
    )
    assert recorded["recordInteraction"]["__typename"] == "RecordInteractionPayload"
    assert len((await drain(worker, engine, made.id)).alerts) == 1
    (alert,) = await _alerts_of(client, made.id)
    assert (alert["rule"], alert["severity"]) == ("COMPLAINT", "MEDIUM")
    # One piece of work (issue 23): the alert is the complaint's own task, not a second one.
    complaint_task = recorded["recordInteraction"]["task"]["id"]
    assert alert["task"]["id"] == complaint_task
    tasks = await gql_data(client, OPEN_TASKS, {"id": encode_id("Customer", made.id)})
    assert [t["id"] for t in tasks["customer"]["openTasks"]] == [complaint_task]

    # Only those who handle the customer's alerts may acknowledge: the RM of another
    # portfolio, and the call center for a customer with an RM, find no such alert.
    other_rm = mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2)
    for outsider in (other_rm, agent):
        refused = await gql_data(anonymous, ACK, {"id": alert["id"]}, token=outsider)
        assert refused["acknowledgeAlert"]["code"] == "NOT_FOUND"
        listed = await gql_data(anonymous, ALERTS, {"filter": None}, token=outsider)
        assert alert["id"] not in [a["id"] for a in listed["alerts"]["nodes"]]
    teller = await gql_data(anonymous, ACK, {"id": alert["id"]}, token=mint(Role.TELLER, "t"))
    assert teller["acknowledgeAlert"]["code"] == "FORBIDDEN"

    acked = await gql_data(client, ACK, {"id": alert["id"]})
    assert acked["acknowledgeAlert"] == {
        "__typename": "Alert",
        "status": "ACKNOWLEDGED",
        "acknowledgedBy": "rm1",
    }
    twice = await gql_data(client, ACK, {"id": alert["id"]})
    assert twice["acknowledgeAlert"]["code"] == "INVALID_INPUT"

    done = await gql_data(
        client,
        COMPLETE,
        {"input": {"taskId": alert["task"]["id"], "result": "已致电解释并道歉", "satisfaction": 4}},
    )
    assert done["completeTask"] == {"__typename": "Task", "status": "DONE"}
    (closed,) = await _alerts_of(client, made.id)
    assert closed["status"] == "CLOSED"
    # Closed alerts leave the customer's open list; the customer never sees alerts at all.
    seen = await gql_data(client, CUSTOMER_ALERTS, {"id": encode_id("Customer", made.id)})
    assert seen["customer"]["alerts"] == []


async def test_repeated_high_alerts_propose_a_move_up_for_a_person_to_decide(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
) -> None:
    rules = SqlDetectionRuleStore(engine)
    large = next(r for r in await rules.rules() if r.kind is RuleKind.LARGE_FUND_MOVEMENT)
    await rules.save(replace(large, cooldown_hours=0), "test")
    try:
        made = await make_customer(engine)  # at watch
        holding = await _deposit_holding(engine, made.id)
        core = mint(Role.INTEGRATION, "core", client_id="core-banking")
        now = datetime.now(UTC)
        for i in range(3):
            await _move(
                anonymous, core, holding, "800000.00", "CREDIT", now - timedelta(seconds=5 - i)
            )
        report = await drain(worker, engine, made.id)
        assert len(report.alerts) == 3
        assert len(report.proposals) == 1
    finally:
        await rules.save(large, "test")
    seen = await gql_data(client, CUSTOMER_ALERTS, {"id": encode_id("Customer", made.id)})
    relationship = seen["customer"]["relationship"]
    # A proposal, never a move: the relationship stays at watch until an approver decides.
    assert relationship["pendingProposal"] == {
        "toState": "DOUBTFUL",
        "reasonCode": "BALANCE_DROP",
        "proposedBy": "detector",
    }
    assert len(seen["customer"]["alerts"]) == 3


UPSERT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { holdingId change } ... on Error { code } } }"""


async def test_closing_the_last_product_of_a_category_alerts_one_level_higher(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
) -> None:
    made = await make_customer(engine)  # holds two current-account deposits
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")

    async def holding(ref: str, product: str, status: str) -> str:
        record = {
            "sourceRef": f"{ref}-{made.id}",
            "customerId": encode_id("Customer", made.id),
            "productCode": product,
            "accountNumber": f"6222{made.id:010d}{ref}",
            "currency": "CNY",
            "balance": "0" if status == "CLOSED" else "50000.00",
            "status": status,
            "openedOn": "2025-01-05",
            **({"closedOn": "2026-11-01"} if status == "CLOSED" else {}),
        }
        answer = await gql_data(anonymous, UPSERT, {"input": record}, token=core)
        assert answer["upsertHolding"]["__typename"] == "UpsertHoldingPayload", answer
        holding_id: str = answer["upsertHolding"]["holdingId"]
        return holding_id

    # A third deposit closes first (two deposits remain), then the customer's only wealth
    # product: the last of its category, one level more severe, is not silenced by the
    # cooldown the first closure started.
    deposit = await holding("D", "DEP-CUR", "ACTIVE")
    wealth = await holding("W", "WM-FIX", "ACTIVE")
    await holding("D", "DEP-CUR", "CLOSED")
    await drain(worker, engine, made.id)
    await holding("W", "WM-FIX", "CLOSED")
    await drain(worker, engine, made.id)
    alerts = sorted(await _alerts_of(client, made.id), key=lambda a: a["severity"])
    assert [(a["rule"], a["severity"]) for a in alerts] == [
        ("PRODUCT_CLOSURE", "HIGH"),  # the rule's MEDIUM, one up for the last of its kind
        ("PRODUCT_CLOSURE", "MEDIUM"),
    ]
    assert alerts[0]["evidence"] == {
        "holdingId": wealth,
        "productCode": "WM-FIX",
        "category": "wealth",
        "lastInCategory": True,
        "remainingInCategory": 0,
    }
    assert alerts[1]["evidence"]["holdingId"] == deposit
    assert alerts[1]["evidence"]["remainingInCategory"] == 2

    # Another deposit closing the same day is within the cooldown: no third alert.
    await holding("E", "DEP-CUR", "ACTIVE")
    await holding("E", "DEP-CUR", "CLOSED")
    assert (await drain(worker, engine, made.id)).cooled_down == 1


async def test_the_running_worker_loop_detects_without_being_driven(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    settings: Settings,
    redis_client: aioredis.Redis,
    http: httpx.AsyncClient,
) -> None:
    running = make_worker(settings, engine, redis_client, http, f"loop-{uuid.uuid4().hex[:8]}")
    await running.ensure_group()
    running.start()
    try:
        made = await make_customer(engine)
        recorded = await gql_data(
            anonymous,
            RECORD,
            {
                "input": {
                    "customerId": encode_id("Customer", made.id),
                    "channel": "MOBILE_APP",
                    "kind": "COMPLAINT",
                    "occurredAt": datetime.now(UTC).isoformat(),
                    "summary": "app 无法登录",
                }
            },
            token=mint(Role.AGENT, "agent-8"),
        )
        assert recorded["recordInteraction"]["__typename"] == "RecordInteractionPayload"
        found: list[dict[str, Any]] = []
        for _ in range(50):
            found = await _alerts_of(client, made.id)
            if found:
                break
            await asyncio.sleep(0.2)
        assert [a["rule"] for a in found] == ["COMPLAINT"]
    finally:
        await running.stop()


async def test_a_malformed_event_is_dropped_without_holding_up_its_batch(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    worker: Worker,
    redis_client: aioredis.Redis,
) -> None:
    made = await make_customer(engine)
    holding = await _deposit_holding(engine, made.id)
    broken = {
        "id": 10**15,
        "customerId": made.id,
        "topic": "fund_movement.recorded",
        "occurredAt": datetime.now(UTC).isoformat(),
        "payload": {"movementId": "not-an-id"},
    }
    await redis_client.xadd(STREAM, {"event": json.dumps(broken)})
    await redis_client.xadd(STREAM, {"event": b"not json at all"})
    core = mint(Role.INTEGRATION, "core", client_id="core-banking")
    await _move(anonymous, core, holding, "990000.00", "CREDIT", datetime.now(UTC))
    report = await drain(worker, engine, made.id)
    assert len(report.alerts) == 1  # the good event in the same stream still alerted
    assert [a["rule"] for a in await _alerts_of(client, made.id)] == ["LARGE_FUND_MOVEMENT"]
    assert (await redis_client.xpending(STREAM, worker.group))["pending"] == 0
