"""Read replicas with read-your-writes (issue 25), against a real streaming replica of the
suite's PostgreSQL whose replay is delayed on purpose: the writer's next read is always
current, other reads are served by the lagging replica, and a replica that is down or too far
behind is skipped."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources
from api.db.engine import create_engine
from api.db.replicas import Replicas
from api.http.app import create_app
from api.ops.embedded import Endpoints
from api.redis.keys import written_fence
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql_data
from tests.replication import StreamingReplica
from tests.statements import StatementCounter

CALL_CENTER = next(op for op in registry().values() if op.name == "call_center_profile")
DELAY_MS = 4000
UPDATE = """mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename ... on UpdateCustomerPayload { customer { displayName } } ... on Error { code } } }"""
PROFILE = """query ($id: ID!) { customer(id: $id) { ... on Customer { displayName } } }"""
SEARCH = """query ($name: String!) { customers(search: $name, first: 5) {
  edges { node { displayName } } } }"""


@pytest.fixture(scope="module")
def replica(endpoints: Endpoints) -> Iterator[StreamingReplica]:
    folder = Path(tempfile.mkdtemp(prefix="qj-replica-"))
    made = StreamingReplica(endpoints.database_url, folder)
    made.create()
    yield made
    made.discard()


@pytest_asyncio.fixture(scope="module")
async def replicas(
    settings: Settings, engine: AsyncEngine, replica: StreamingReplica
) -> AsyncIterator[Replicas]:
    routed = Replicas(engine, [create_engine(replica.url, settings)], max_lag_seconds=30)
    await routed.poll()
    watching = asyncio.create_task(routed.watch())
    yield routed
    watching.cancel()
    await routed.dispose()


@pytest_asyncio.fixture(scope="module")
async def channel(
    settings: Settings,
    engine: AsyncEngine,
    redis_client: aioredis.Redis,
    seeded: int,
    replicas: Replicas,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, Resources(engine=engine, redis=redis_client, replicas=replicas))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://quanjing.test") as c:
        yield c


def _routed(decision: str) -> float:
    return REGISTRY.get_sample_value("quanjing_replica_routing_total", {"decision": decision}) or 0


async def _primary_lsn(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(text("SELECT pg_current_wal_lsn()::text")))


async def _caught_up(engine: AsyncEngine, replica: StreamingReplica, replicas: Replicas) -> None:
    await asyncio.to_thread(replica.wait_for_replay, await _primary_lsn(engine))
    await replicas.poll()


async def _name(channel: httpx.AsyncClient, token: str, made: Made) -> Any:
    data = await gql_data(channel, PROFILE, {"id": encode_id("Customer", made.id)}, token=token)
    return data["customer"]["displayName"]


async def _lane_name(channel: httpx.AsyncClient, token: str, made: Made) -> Any:
    """The same read through the registered profiles' lane (api/http/profile_lane.py)."""
    response = await channel.post(
        "/graphql",
        json={"id": CALL_CENTER.sha256, "variables": {"id": encode_id("Customer", made.id)}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["customer"]["displayName"]


async def test_the_writer_reads_its_write_at_once_while_others_read_the_lagging_replica(
    channel: httpx.AsyncClient,
    engine: AsyncEngine,
    redis_client: aioredis.Redis,
    replica: StreamingReplica,
    replicas: Replicas,
    mint: Minter,
) -> None:
    written = await make_customer(engine)
    other = await make_customer(engine, name="另一位客户")
    await _caught_up(engine, replica, replicas)
    writer = mint(Role.RELATIONSHIP_MANAGER, "rm-writer", rm=1)
    reader = mint(Role.RELATIONSHIP_MANAGER, "rm-reader", rm=1)
    before = await _name(channel, reader, written)
    replica.delay(DELAY_MS)
    try:
        for round_ in range(3):
            name = f"改名{written.id}号{round_}"
            changed = await gql_data(
                channel,
                UPDATE,
                {"input": {"customerId": encode_id("Customer", written.id), "displayName": name}},
                token=writer,
            )
            # The mutation's own read of its result is the primary's.
            assert changed["updateCustomer"]["customer"]["displayName"] == name
            # Another caller is served by the replica, which has not applied the write yet.
            served = _routed("replica")
            assert await _name(channel, reader, written) == before
            # (through the lane too; the two RMs share a cache scope, so the reader goes first:
            # the writer must not be handed the old answer the reader's read cached)
            assert await _lane_name(channel, reader, written) == before
            assert await _name(channel, reader, other) == "另一位客户"
            assert _routed("replica") == served + 3
            behind = _routed("primary_behind_caller")
            assert await _name(channel, writer, written) == name  # always current
            assert await _lane_name(channel, writer, written) == name
            assert _routed("primary_behind_caller") == behind + 2
            # A search is a read like any other: the writer finds the new name at once.
            found = await gql_data(channel, SEARCH, {"name": name}, token=writer)
            assert [e["node"]["displayName"] for e in found["customers"]["edges"]] == [name]
        fence = await redis_client.get(written_fence(f"{Role.RELATIONSHIP_MANAGER}:rm-writer"))
        assert fence is not None
        assert int(fence, 16) > 0
        # The replica applies the writes after the delay; the writer is back on it.
        await _caught_up(engine, replica, replicas)
        served = _routed("replica")
        assert await _name(channel, writer, written) == name
        assert await _name(channel, reader, written) == name
        assert _routed("replica") == served + 2
    finally:
        replica.delay(0)


async def test_a_replica_down_or_too_far_behind_is_skipped(
    channel: httpx.AsyncClient,
    engine: AsyncEngine,
    replica: StreamingReplica,
    replicas: Replicas,
    mint: Minter,
) -> None:
    made = await make_customer(engine, name="跳过副本")
    await _caught_up(engine, replica, replicas)
    reader = mint(Role.RELATIONSHIP_MANAGER, "rm-skipped", rm=1)
    up = REGISTRY.get_sample_value("quanjing_replica_up", {"replica": "replica-0"})
    assert up == 1
    replica.stop()
    try:
        await replicas.poll()
        assert REGISTRY.get_sample_value("quanjing_replica_up", {"replica": "replica-0"}) == 0
        skipped = _routed("primary_no_replica")
        assert await _name(channel, reader, made) == "跳过副本"
        assert _routed("primary_no_replica") == skipped + 1
    finally:
        replica.start()
    await _caught_up(engine, replica, replicas)
    assert REGISTRY.get_sample_value("quanjing_replica_up", {"replica": "replica-0"}) == 1

    # Lagging past the threshold: the primary has written what the replica will apply only
    # after the delay, and reads skip it meanwhile, whoever asks.
    replica.delay(DELAY_MS)
    threshold = replicas.max_lag_seconds
    replicas.max_lag_seconds = 1
    try:
        await make_customer(engine)
        await asyncio.sleep(1.5)
        await replicas.poll()
        lag = REGISTRY.get_sample_value("quanjing_replica_lag_seconds", {"replica": "replica-0"})
        assert lag is not None
        assert lag > 1
        skipped = _routed("primary_no_replica")
        assert await _name(channel, reader, made) == "跳过副本"
        assert _routed("primary_no_replica") == skipped + 1
    finally:
        replicas.max_lag_seconds = threshold
        replica.delay(0)
    await _caught_up(engine, replica, replicas)
    assert REGISTRY.get_sample_value("quanjing_replica_lag_seconds", {"replica": "replica-0"}) == 0


async def test_read_your_writes_costs_a_write_one_statement_and_a_read_none(
    channel: httpx.AsyncClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    replica: StreamingReplica,
    replicas: Replicas,
    statements: StatementCounter,
    mint: Minter,
) -> None:
    made = await make_customer(engine)
    await _caught_up(engine, replica, replicas)
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)  # the `client` fixture's caller
    sent: dict[str, list[str]] = {}
    for name, through in (("primary only", client), ("with a replica", channel)):
        for round_ in range(2):  # the second round is the one counted: caches are warm
            with statements.capture() as captured:
                update = {"customerId": encode_id("Customer", made.id)}
                await gql_data(
                    through,
                    UPDATE,
                    {"input": {**update, "displayName": f"计数{name}{round_}"}},
                    token=rm,
                )
            sent[name] = captured
    extra = [s for s in sent["with a replica"] if s not in sent["primary only"]]
    assert len(sent["with a replica"]) == len(sent["primary only"]) + 1
    assert len(extra) == 1
    assert "pg_current_wal_lsn" in extra[0]
    # A read the replica serves sends the primary only its audit record.
    await _caught_up(engine, replica, replicas)
    with statements.capture() as primary_only:
        await _name(channel, mint(Role.RELATIONSHIP_MANAGER, "rm-counted", rm=1), made)
    assert len(primary_only) == 1
    assert primary_only[0].lstrip().upper().startswith(("INSERT", "WITH"))
