"""The read audit and masking hold on every transport: HTTP, a query over the websocket, and
each event of a subscription."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.redis.activity_feed import RedisActivityFeed
from api.redis.events import activity_channel
from api.redis.keys import counter_session
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.access import ROOT_PERMISSIONS
from tests.conftest import Minter
from tests.e2e.test_audit import BrokenAuditLog
from tests.factories import Made, make_customer
from tests.graphql import gql_data, ports_of
from tests.websocket import receive, run_over_websocket, send_subscribe, signed_in

READ = """query Read($id: ID!) { customer(id: $id) { ... on Customer {
  displayName documents { number } personal { birthDate } } } }"""
FOLLOW = """subscription Follow($id: ID!) { customerActivity(customerId: $id) {
  sequence topic payload } }"""
OPEN = """mutation ($input: OpenCounterSessionInput!) { openCounterSession(input: $input) {
  __typename } }"""


async def _records(endpoints: Endpoints, subject: str) -> list[tuple[str | None, str, list[str]]]:
    """(operation, outcome, fields) of the subject's audit records, oldest first."""
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        rows = await conn.fetch(
            "SELECT operation, outcome, fields FROM audit_records WHERE subject = $1 ORDER BY id",
            subject,
        )
    finally:
        await conn.close()
    return [(r["operation"], r["outcome"], list(r["fields"])) for r in rows]


async def _listening(redis: aioredis.Redis, customer_id: int) -> None:
    for _ in range(200):
        [(_, listeners)] = await redis.pubsub_numsub(activity_channel(customer_id))
        if listeners:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the subscription never listened")


async def _publish_movement(redis: aioredis.Redis, customer_id: int, sequence: int) -> None:
    """A fund movement's event, as the outbox relay publishes it."""
    event = {
        "id": sequence,
        "customerId": customer_id,
        "topic": "fund_movement.recorded",
        "occurredAt": datetime.now(UTC).isoformat(),
        "payload": {"movementId": 7, "holdingId": 3, "amount": "8800.00", "direction": "CREDIT"},
    }
    await redis.publish(activity_channel(customer_id), orjson.dumps(event))


async def _first_event(
    server: str, token: str, made: Made, redis: aioredis.Redis
) -> dict[str, Any]:
    ws = await signed_in(server, token)
    try:
        await send_subscribe(ws, {"query": FOLLOW, "variables": {"id": _gid(made)}})
        await _listening(redis, made.id)
        await _publish_movement(redis, made.id, 1)
        message = await asyncio.wait_for(receive(ws), 10)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["customerActivity"]
        return event
    finally:
        await ws.close()


def _gid(made: Made) -> str:
    return encode_id("Customer", made.id)


async def test_one_audit_record_per_read_on_every_transport(
    server: str,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    redis_client: aioredis.Redis,
) -> None:
    made = await make_customer(engine)
    token = mint(Role.AGENT, "transport-agent")
    over_http = await gql_data(client, READ, {"id": _gid(made)}, token=token)
    over_ws = await run_over_websocket(server, token, READ, {"id": _gid(made)})
    assert over_ws == {"data": over_http}
    event = await _first_event(server, token, made, redis_client)
    assert event["topic"] == "fund_movement.recorded"

    read_fields = ["Customer.displayName:clear", "IdentityDocument.number:masked"]
    records = await _records(endpoints, "transport-agent")
    assert records[:2] == [("Read", "returned", read_fields)] * 2  # HTTP, then the websocket
    assert records[2] == ("Follow", "subscribed", [])
    # The event: one record, with what it showed.
    assert records[3][:2] == ("Follow", "returned")
    assert "ActivityEvent.payload:clear" in records[3][2]
    assert len(records) == 4


async def test_a_movements_figures_follow_the_field_policies(
    server: str,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    endpoints: Endpoints,
    mint: Minter,
    redis_client: aioredis.Redis,
) -> None:
    made = await make_customer(engine)
    # A teller without a counter session: ids and kinds, no amount, no direction.
    teller = mint(Role.TELLER, "transport-teller")
    event = await _first_event(server, teller, made, redis_client)
    assert set(event["payload"]) == {"movementId", "holdingId"}
    # Inside a verified session, the teller sees them, and the audit says so.
    opened = await gql_data(
        client,
        OPEN,
        {
            "input": {
                "customerId": _gid(made),
                "documentType": "RESIDENT_ID",
                "documentNumber": made.resident_id,
            }
        },
        token=teller,
    )
    assert opened["openCounterSession"]["__typename"] == "CounterSession"
    session_key = counter_session("transport-teller", made.id)
    before = await redis_client.pttl(session_key)
    event = await _first_event(server, teller, made, redis_client)
    assert event["payload"]["amount"] == "8800.00"
    # Looked at, not extended: an event is not the teller serving the customer.
    assert 0 < await redis_client.pttl(session_key) < before
    assert event["payload"]["direction"] == "CREDIT"
    returned = [r for r in await _records(endpoints, "transport-teller") if r[1] == "returned"]
    assert "ActivityEvent.payload.amount:clear" in returned[-1][2]
    assert "ActivityEvent.payload.amount:clear" not in returned[0][2]


async def test_websocket_reads_are_withheld_when_the_audit_cannot_be_written(
    server: str,
    app: Starlette,
    engine: AsyncEngine,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await make_customer(engine, name="不可外泄")
    monkeypatch.setattr(ports_of(app), "audit_log", BrokenAuditLog())
    payload = await run_over_websocket(server, mint(Role.AGENT), READ, {"id": _gid(made)})
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "不可外泄" not in orjson.dumps(payload).decode()
    # A subscription is refused before its first event.
    ws = await signed_in(server, mint(Role.AGENT))
    try:
        await send_subscribe(ws, {"query": FOLLOW, "variables": {"id": _gid(made)}})
        message = await asyncio.wait_for(receive(ws), 10)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    finally:
        await ws.close()


async def test_operations_on_one_connection_are_audited_apart(
    server: str, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    # Two reads on one connection, of two customers: two records of one customer each (a
    # shared collector would write the second read's record with both customers).
    first, second = await make_customer(engine), await make_customer(engine)
    ws = await signed_in(server, mint(Role.AGENT, "transport-two"))
    try:
        for n, made in enumerate((first, second)):
            await send_subscribe(ws, {"query": READ, "variables": {"id": _gid(made)}}, str(n))
            assert (await asyncio.wait_for(receive(ws), 10))["type"] == "next"
            assert (await asyncio.wait_for(receive(ws), 10))["type"] == "complete"
    finally:
        await ws.close()
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        ids = await conn.fetch(
            "SELECT customer_ids FROM audit_records WHERE subject = 'transport-two' ORDER BY id"
        )
    finally:
        await conn.close()
    assert [list(r["customer_ids"]) for r in ids] == [[first.id], [second.id]]


async def test_the_connection_closes_when_its_token_expires(server: str, mint: Minter) -> None:
    ws = await signed_in(server, mint(Role.AGENT, ttl_seconds=2))
    try:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(receive(ws), 30)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "Token expired")
    finally:
        await ws.close()


async def test_one_caller_holds_a_limited_number_of_subscriptions(
    server: str, app: Starlette, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    # 20 per caller across connections (10 per connection): a 21st, on a third connection,
    # is refused with a code; other callers are unaffected.
    made = await make_customer(engine)
    token = mint(Role.AGENT, "transport-many")
    sockets = [await signed_in(server, token) for _ in range(3)]
    try:
        for n in range(20):
            await send_subscribe(
                sockets[n // 10], {"query": FOLLOW, "variables": {"id": _gid(made)}}, str(n)
            )
        feed = ports_of(app).activity
        assert isinstance(feed, RedisActivityFeed)
        for _ in range(200):  # each starts in a task of its own
            if feed._held["agent:transport-many"] == 20:
                break
            await asyncio.sleep(0.05)
        await send_subscribe(sockets[2], {"query": FOLLOW, "variables": {"id": _gid(made)}}, "x")
        message = await asyncio.wait_for(receive(sockets[2]), 10)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "SUBSCRIPTION_LIMIT_REACHED"
        elsewhere = await make_customer(engine)
        other = await _first_event(
            server, mint(Role.AGENT, "transport-other"), elsewhere, redis_client
        )
        assert other["topic"] == "fund_movement.recorded"
    finally:
        for ws in sockets:
            await ws.close()


async def test_every_role_the_subscription_does_not_name_is_refused(
    server: str, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    refused = []
    for role in sorted(set(Role) - ROOT_PERMISSIONS["customerActivity"]):
        token = mint(role, f"follow-{role.value}", cid=made.id, rm=1)
        ws = await signed_in(server, token)
        try:
            await send_subscribe(ws, {"query": FOLLOW, "variables": {"id": _gid(made)}})
            message = await asyncio.wait_for(receive(ws), 10)
        finally:
            await ws.close()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        refused.append((role.value, errors[0]["extensions"]["code"]))
    assert [role for role, code in refused if code != "FORBIDDEN"] == []
    assert len(refused) == len(set(Role) - ROOT_PERMISSIONS["customerActivity"])
