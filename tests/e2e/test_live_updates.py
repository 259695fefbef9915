"""Live updates over a real websocket, from the outbox through real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.db.engine import asyncpg_dsn
from api.db.recording_uow import SqlRecordingUnitOfWork
from api.http.app import MAX_SUBSCRIPTIONS_PER_CONNECTION
from api.ops.embedded import EmbeddedRedis, Endpoints
from api.redis.activity_feed import SubscriberTooSlow
from api.redis.events import STREAM, activity_channel
from api.settings import Settings
from api.worker.outbox_relay import OutboxRelay
from domain.access.principal import Role
from domain.ids import encode_id
from domain.interactions import Channel, InteractionKind, NewInteraction
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import ports_of
from tests.websocket import free_port, receive, send_subscribe, signed_in

SUBSCRIBE = """subscription ($id: ID!) { customerActivity(customerId: $id) {
  sequence customerId topic payload } }"""


def _activity_of(customer_id: int) -> dict[str, Any]:
    return {"query": SUBSCRIBE, "variables": {"id": encode_id("Customer", customer_id)}}


async def _subscribe(server: str, token: str, customer_id: int) -> ClientConnection:
    ws = await signed_in(server, token)
    await send_subscribe(ws, _activity_of(customer_id))
    return ws


async def _listening(redis: aioredis.Redis, customer_id: int) -> None:
    """Until the server listens on the customer's channel: what is published before then is
    not for this subscription (pub/sub keeps nothing)."""
    channel = activity_channel(customer_id)
    for _ in range(200):
        [(_, listeners)] = await redis.pubsub_numsub(channel)
        if listeners:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nobody subscribed to {channel} within 10 s")


async def _events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` events of the subscription (a test's ceiling bounds the wait)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await receive(ws)
        assert message["type"] == "next", message
        events.append(message["payload"]["data"]["customerActivity"])
    return events


async def _nothing_more(ws: ClientConnection, within: float) -> None:
    """No further message within `within` seconds (a check that can only pass late, never
    fail because the machine is slow)."""
    with contextlib.suppress(TimeoutError):
        message = await asyncio.wait_for(receive(ws), within)
        raise AssertionError(f"unexpected message: {message}")


def _interaction(customer_id: int) -> NewInteraction:
    return NewInteraction(
        customer_id=customer_id,
        channel=Channel.CALL_CENTER,
        kind=InteractionKind.INQUIRY,
        occurred_at=datetime.now(UTC),
        branch_id=None,
        staff_code=None,
        cost=None,
        outcome=None,
        summary="回滚",
        offers=(),
        products_discussed=(),
        satisfaction=None,
    )


async def test_a_committed_write_is_announced_and_a_rolled_back_one_never(
    server: str, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    # Promptness is the relay's wake on commit (the next test), not a wall-time bound
    # here: on a loaded machine any bound is a coin toss.
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "desk-1")
    ws = await _subscribe(server, agent, made.id)
    try:
        await _listening(redis_client, made.id)
        # A write that rolls back after emitting its event: the event goes with it.
        async with SqlRecordingUnitOfWork(engine) as uow:
            await uow.add_interaction(_interaction(made.id), "desk-1")
            await uow.emit(made.id, "interaction.recorded", {"interactionId": -1})
        async with httpx.AsyncClient(base_url=f"http://{server}") as http:
            response = await http.post(
                "/graphql",
                headers={"authorization": f"Bearer {agent}"},
                json={
                    "query": """mutation ($input: RecordInteractionInput!) {
                recordInteraction(input: $input) { ... on RecordInteractionPayload {
                interactionId } } }""",
                    "variables": {
                        "input": {
                            "customerId": encode_id("Customer", made.id),
                            "channel": "CALL_CENTER",
                            "kind": "COMPLAINT",
                            "occurredAt": datetime.now(UTC).isoformat(),
                        }
                    },
                },
            )
        interaction_id = response.json()["data"]["recordInteraction"]["interactionId"]
        # The rolled-back event was emitted first: published, it would arrive first.
        first = await _events(ws, 2)
        assert [e["topic"] for e in first] == ["interaction.recorded", "task.opened"]
        assert first[0]["payload"]["interactionId"] == interaction_id
        # Enum values as every GraphQL enum is written (issue 23: they were `call_center`).
        assert first[0]["payload"]["channel"] == "CALL_CENTER"
        assert first[0]["payload"]["kind"] == "COMPLAINT"
        assert first[1]["payload"]["kind"] == first[1]["payload"]["kind"].upper()
        assert first[0]["sequence"] < first[1]["sequence"]
        await _nothing_more(ws, within=0.5)
    finally:
        await ws.close()


async def test_a_commit_wakes_the_relay_instead_of_waiting_for_its_poll(
    app: Starlette, engine: AsyncEngine, redis_client: aioredis.Redis, endpoints: Endpoints
) -> None:
    # A relay that would poll again only in an hour publishes the commit's events at once:
    # the commit woke it. Without the wake this waits out its deadline and fails.
    made = await make_customer(engine)
    await app.state.relay.stop()  # this test's relay alone publishes
    relay = OutboxRelay(engine, redis_client, poll_seconds=3600)
    relay.start()
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        async with SqlRecordingUnitOfWork(engine, on_commit=relay.wake) as uow:
            await uow.add_interaction(_interaction(made.id), "wake-test")
            await uow.emit(made.id, "interaction.recorded", {"n": 1})
            await uow.commit()
        unpublished = "SELECT count(*) FROM outbox WHERE customer_id = $1 AND published_at IS NULL"
        for _ in range(300):
            if await conn.fetchval(unpublished, made.id) == 0:
                break
            await asyncio.sleep(0.1)
        assert await conn.fetchval(unpublished, made.id) == 0
    finally:
        await conn.close()
        await relay.stop()
        app.state.relay.start()


async def test_a_websocket_without_a_valid_token_is_refused(server: str) -> None:
    """Closed 4401 with the token's code as the reason (issue 23): the protocol's
    Unauthorized, which graphql-ws clients do not retry; it was 4403 "Forbidden", retried for
    ~40 s, and without the code."""
    ws = await connect(f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer x"}}))
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "TOKEN_INVALID")


async def test_a_bad_token_in_the_handshake_is_a_close_with_its_code_not_a_403(
    server: str,
) -> None:
    """A bad Authorization header on the handshake was refused before the accept: HTTP 403,
    which clients see as 1006 without any code. Now the websocket is accepted, then closed
    4401 with the code."""
    ws = await connect(
        f"ws://{server}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"authorization": "Bearer not-a-token"},
    )
    assert ws.subprotocol == "graphql-transport-ws"
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "TOKEN_INVALID")


async def test_the_relay_catches_up_after_redis_comes_back(
    app: Starlette, engine: AsyncEngine, endpoints: Endpoints, tmp_path: Path
) -> None:
    made = await make_customer(engine)
    await app.state.relay.stop()  # this test's relay, on its own Redis, does the publishing
    own_redis = EmbeddedRedis(tmp_path)
    port = free_port()
    client = aioredis.from_url(own_redis.start(port=port), socket_connect_timeout=0.5)
    relay = OutboxRelay(engine, client, poll_seconds=0.2)
    relay.start()
    try:
        own_redis.stop()  # Redis goes away…
        async with SqlRecordingUnitOfWork(engine, on_commit=relay.wake) as uow:
            for n in range(3):
                await uow.add_interaction(_interaction(made.id), "relay-test")
                await uow.emit(made.id, "interaction.recorded", {"n": n})
            await uow.commit()
        await asyncio.sleep(1.0)  # …the relay retries and the events wait in the outbox
        conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
        try:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE customer_id = $1 AND published_at IS NULL",
                made.id,
            )
            assert waiting == 3
            own_redis.start(port=port)  # …and comes back
            published: list[dict[str, Any]] = []
            # The relay publishes first and marks the rows in PostgreSQL after, so wait for
            # both: the events in the stream, then the outbox rows marked published.
            for _ in range(100):
                entries = await client.xrange(STREAM) or []
                published = [json.loads(e[b"event"]) for _, e in entries if e is not None]
                published = [p for p in published if p["customerId"] == made.id]
                if len(published) == 3:
                    break
                await asyncio.sleep(0.1)
            assert [p["payload"]["n"] for p in published] == [0, 1, 2]
            for _ in range(100):
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE customer_id = $1 AND published_at IS NULL",
                    made.id,
                )
                if waiting == 0:
                    break
                await asyncio.sleep(0.1)
            assert waiting == 0
        finally:
            await conn.close()
    finally:
        await relay.stop()
        await client.aclose()
        own_redis.stop()
        app.state.relay.start()


async def _error_from(
    app: Starlette,
    server: str,
    engine: AsyncEngine,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
    feed: object,
) -> Any:
    """The first message an agent's subscription gets when the server's feed is `feed`."""
    made = await make_customer(engine)
    monkeypatch.setattr(ports_of(app), "activity", feed)
    ws = await _subscribe(server, mint(Role.AGENT, "ws-feed"), made.id)
    try:
        return await asyncio.wait_for(receive(ws), 5)
    finally:
        await ws.close()


class _ExplodingActivity:
    """An activity feed whose Redis is on fire, as an unexpected failure looks."""

    def subscribe(self, customer_id: int, holder: str) -> AsyncIterator[Any]:
        raise RuntimeError("connection to redis at 10.0.0.7:6379 failed: secret detail")


async def test_an_unexpected_failure_over_the_websocket_is_masked_too(
    app: Starlette,
    server: str,
    engine: AsyncEngine,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _error_from(app, server, engine, mint, monkeypatch, _ExplodingActivity())
    text = json.dumps(message)
    assert "10.0.0.7" not in text
    assert "secret" not in text
    (error,) = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["correlationId"]


class _OverflowingActivity:
    """A feed that ends the subscription as it ends one whose client fell behind."""

    async def subscribe(self, customer_id: int, holder: str) -> AsyncIterator[Any]:
        raise SubscriberTooSlow("more than 256 events waited for this subscription")
        yield  # an async generator, like the real feed


async def test_a_subscriber_that_fell_behind_is_told_with_a_code(
    app: Starlette,
    server: str,
    engine: AsyncEngine,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _error_from(app, server, engine, mint, monkeypatch, _OverflowingActivity())
    (error,) = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert error["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW"
    assert "256 events" in error["message"]


async def test_a_websocket_message_over_the_body_limit_closes_the_connection(
    server: str, settings: Settings, mint: Minter
) -> None:
    ws = await signed_in(server, mint(Role.AGENT, "ws-big"))
    padding = " " * (settings.max_body_bytes + 1)
    await send_subscribe(ws, {"query": "{ __typename }" + padding})
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big


async def test_a_request_error_over_the_websocket_carries_its_code(
    server: str, mint: Minter
) -> None:
    ws = await signed_in(server, mint(Role.AGENT, "ws-invalid"))
    try:
        await send_subscribe(ws, {"query": "subscription { nope }"})
        message = await asyncio.wait_for(receive(ws), 5)
    finally:
        await ws.close()
    assert message["type"] == "error"
    (error,) = message["payload"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_one_websocket_holds_a_bounded_number_of_subscriptions(
    server: str, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    ws = await signed_in(server, mint(Role.AGENT, "ws-many"))
    try:
        for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION + 1):
            await send_subscribe(ws, _activity_of(made.id), str(n))
        refused = await asyncio.wait_for(receive(ws), 5)
    finally:
        await ws.close()
    assert refused["id"] == str(MAX_SUBSCRIPTIONS_PER_CONNECTION)
    assert refused["type"] == "error"
    assert "limit" in refused["payload"][0]["message"]


async def test_a_client_that_drops_right_after_subscribing_leaves_no_subscription_behind(
    server: str, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    # Closing within milliseconds of `subscribe` used to land while redis-py was reading the
    # pub/sub connection, which swallowed the cancellation: the subscription outlived its
    # client, kept its Redis connection and stalled the server's shutdown.
    made = await make_customer(engine)
    token = mint(Role.AGENT, "ws-drop")
    channel = activity_channel(made.id)
    for pause in (0.0, 0.002, 0.005, 0.01, 0.02):
        ws = await signed_in(server, token)
        await send_subscribe(ws, _activity_of(made.id))
        await asyncio.sleep(pause)
        await ws.close()
    listeners = -1
    for _ in range(50):
        [(_, listeners)] = await redis_client.pubsub_numsub(channel)
        if listeners == 0:
            break
        await asyncio.sleep(0.1)
    assert listeners == 0


async def test_a_customer_follows_their_own_activity_and_only_their_doings(
    server: str, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    """Issue 23: a customer token was refused customerActivity (FORBIDDEN). It may follow its
    own, and hears of its interactions, holdings and movements, not of the bank's tasks."""
    made, other = await make_customer(engine), await make_customer(engine)
    me = mint(Role.CUSTOMER, f"c-{made.id}", cid=made.id)
    ws = await _subscribe(server, me, made.id)
    try:
        await _listening(redis_client, made.id)
        async with httpx.AsyncClient(base_url=f"http://{server}") as http:
            await http.post(
                "/graphql",
                headers={"authorization": f"Bearer {mint(Role.AGENT, 'desk-own')}"},
                json={
                    "query": """mutation ($input: RecordInteractionInput!) {
                      recordInteraction(input: $input) { __typename } }""",
                    "variables": {
                        "input": {
                            "customerId": encode_id("Customer", made.id),
                            "channel": "CALL_CENTER",
                            "kind": "COMPLAINT",  # also opens a task: not the customer's to see
                            "occurredAt": datetime.now(UTC).isoformat(),
                        }
                    },
                },
            )
        [event] = await _events(ws, 1)
        assert event["topic"] == "interaction.recorded"
        await _nothing_more(ws, within=1.0)  # task.opened is not sent to the customer
    finally:
        await ws.close()
    # Someone else's activity: as if it did not exist.
    ws = await _subscribe(server, me, other.id)
    try:
        message = await receive(ws)
        errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    finally:
        await ws.close()
