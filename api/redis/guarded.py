"""Redis clients with our own timeouts, and a circuit breaker on the request path.

redis-py's defaults (5 s socket timeouts, ten retries with back-off) turned a frozen Redis into
a 5–10 s wait on every request. The request path's client (rate limits, the response cache,
counter sessions) instead waits QUANJING_REDIS_TIMEOUT_MS (250 ms) at most, retries a broken
connection once, and sits behind a breaker: after QUANJING_REDIS_BREAKER_FAILURES failures in
a row every call fails at once for QUANJING_REDIS_BREAKER_OPEN_SECONDS, then one call at a time
probes (half-open) until one succeeds. Each caller's documented fallback then costs nothing:
the rate limit in process, the cache bypassed, counter sessions as unknown (docs/operations.md).

The background work (the worker's stream reads, the outbox relay, the activity feed) uses its
own client with QUANJING_WORKER_REDIS_TIMEOUT_MS and no breaker: it retries in its own loops.

Why not a library: pybreaker's asynchronous calls need Tornado, and the asyncio breakers on
PyPI let every waiting call through when half-open; here exactly one probe is in flight, which
is what keeps a frozen Redis from costing each request its timeout.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.metrics import REDIS_FAILURES
from api.outages import REDIS, Outages

T = TypeVar("T")

# What a dead or frozen server raises (redis-py wraps socket errors; OSError for safety).
_FAILURES = (RedisConnectionError, RedisTimeoutError, OSError)


class BreakerOpen(RedisConnectionError):
    """Redis failed repeatedly: calls fail at once until the next probe. A ConnectionError, so
    every `except RedisError` fallback already handles it."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int,
        open_seconds: float,
        outages: Outages | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.open_seconds = open_seconds
        self.outages = outages
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None  # None: closed
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() >= self.opened_at + self.open_seconds else "open"

    def retry_after(self) -> int:
        if self.opened_at is None:
            return 1
        return max(1, round(self.opened_at + self.open_seconds - self.clock()))

    def _admit(self) -> bool:
        """Let the call through (True when it is the half-open probe) or raise BreakerOpen."""
        if self.opened_at is None:
            return False
        if self.clock() < self.opened_at + self.open_seconds or self.probing:
            REDIS_FAILURES.labels("failed_fast").inc()
            raise BreakerOpen("Redis is unavailable (circuit open)")
        self.probing = True
        return True

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        probe = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except _FAILURES as error:
            self._failed(error)
            raise
        except BaseException:
            # Redis answered (an error reply) or the caller was cancelled: not an outage.
            if probe:
                self.probing = False
            raise
        self._succeeded()
        return result

    def _succeeded(self) -> None:
        self.failures = 0
        self.probing = False
        self.opened_at = None
        # Redis answers: whoever recorded it down (this breaker, or a Redis error that reached
        # the error masking) hears it is back, once.
        if self.outages is not None and self.outages.is_down(REDIS):
            self.outages.up(REDIS)

    def _failed(self, error: BaseException) -> None:
        REDIS_FAILURES.labels(
            "timeout" if isinstance(error, TimeoutError | RedisTimeoutError) else "error"
        ).inc()
        self.failures += 1
        self.probing = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()  # (re)open: the next probe waits a full period
            if self.outages is not None:
                self.outages.down(REDIS, error)


class GuardedPipeline(Pipeline):
    breaker: CircuitBreaker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        return await self.breaker.call(super().execute, raise_on_error)


class GuardedRedis(aioredis.Redis):
    """A client whose every command and pipeline goes through `breaker`."""

    breaker: CircuitBreaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        return await self.breaker.call(super().execute_command, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breaker = self.breaker
        return pipe


class GuardedClusterPipeline(ClusterPipeline):
    breaker: CircuitBreaker

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        return await self.breaker.call(super().execute, raise_on_error, allow_redirections)


class GuardedRedisCluster(RedisCluster):
    """`GuardedRedis` for a Redis Cluster (QUANJING_REDIS_CLUSTER): every command and pipeline
    through `breaker`; the cluster client routes each by its key's slot (api/redis/keys.py)."""

    breaker: CircuitBreaker

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return await self.breaker.call(super().execute_command, *args, **kwargs)

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        # As redis-py's own `pipeline` builds it; its stubs leave an attribute abstract.
        pipe = GuardedClusterPipeline(self, transaction)  # type: ignore[abstract]
        pipe.breaker = self.breaker
        return pipe


def request_client(
    url: str, timeout_ms: int, breaker: CircuitBreaker, *, cluster: bool = False
) -> aioredis.Redis:
    seconds = timeout_ms / 1000
    options: dict[str, Any] = {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        # A pooled connection Redis closed (a restart) is replaced once; a timeout is not
        # retried: the caller's fallback is cheaper than a second wait.
        "retry": Retry(NoBackoff(), 1),
    }
    client: GuardedRedis | GuardedRedisCluster
    if cluster:
        client = cast(GuardedRedisCluster, GuardedRedisCluster.from_url(url, **options))
    else:
        made = GuardedRedis.from_url(url, **options)
        assert isinstance(made, GuardedRedis)
        client = made
    client.breaker = breaker
    # The ports take a Redis; a cluster client speaks the same commands (routed by slot).
    return cast(aioredis.Redis, client)


def background_client(url: str, timeout_ms: int, *, cluster: bool = False) -> aioredis.Redis:
    seconds = timeout_ms / 1000
    options: dict[str, Any] = {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 2),
    }
    if cluster:
        return cast(aioredis.Redis, RedisCluster.from_url(url, **options))
    return aioredis.from_url(url, **options)
