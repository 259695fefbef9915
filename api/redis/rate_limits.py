"""The token bucket in Redis: one atomic Lua script, so concurrent requests cannot both spend
the same tokens (no read-then-write race). Falls back to in-process buckets when Redis fails."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from api.metrics import RATE_LIMITED
from api.redis.keys import rate_bucket
from domain.access.rate_limits import LocalTokenBuckets, RefusalMemory

# KEYS[1] bucket; ARGV: capacity, refill per second, cost. Time comes from the Redis server,
# so workers with skewed clocks share one notion of "now".
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * refill)
local retry = 0
if cost <= tokens then
  tokens = tokens - cost
else
  retry = (cost - tokens) / refill
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / refill * 1000) + 1000)
return tostring(retry)
"""


# The same bucket, and the value of KEYS[2] read in the same round trip (a cached answer the
# caller is charged for). A missing value ends the reply after the retry.
TOKEN_BUCKET_AND_GET = TOKEN_BUCKET.replace(
    "return tostring(retry)", "return {tostring(retry), redis.call('GET', KEYS[2])}"
)


class RedisTokenBuckets:
    def __init__(self, client: aioredis.Redis, capacity: float, refill_per_second: float) -> None:
        self.capacity = capacity
        self.refill = refill_per_second
        self._client = client
        self._script = client.register_script(TOKEN_BUCKET)
        self._script_and_get = client.register_script(TOKEN_BUCKET_AND_GET)
        self._fallback = LocalTokenBuckets(capacity, refill_per_second)
        # The bucket and a cached answer live in different hash slots: one script may read
        # both on a single Redis, never on a cluster (api/redis/keys.py).
        self._one_node = not isinstance(client, RedisCluster)
        self.refusals = RefusalMemory(refill_per_second)

    async def acquire(self, key: str, cost: float) -> float | None:
        try:
            raw = await self._script(
                keys=[rate_bucket(key)], args=[self.capacity, self.refill, cost]
            )
        except (RedisError, OSError):
            # In-process buckets meanwhile; the outage is logged once (api/outages.py).
            return self._noted(key, cost, self._fallback.take(key, cost))
        retry = float(raw)
        return self._noted(key, cost, None if retry <= 0 else round(retry, 3))

    def _noted(self, key: str, cost: float, retry: float | None) -> float | None:
        if retry is not None:
            RATE_LIMITED.labels("bucket").inc()
            self.refusals.refused(key, cost, retry)
        return retry

    async def acquire_and_get(
        self, key: str, cost: float, other: str
    ) -> tuple[float | None, bytes | None]:
        """`acquire`, and the value at `other`: in one round trip on a single Redis."""
        if not self._one_node:
            retry = await self.acquire(key, cost)
            if retry is not None:
                return retry, None
            try:
                value = await self._client.get(other)
            except (RedisError, OSError):
                return None, None
            return None, value.encode() if isinstance(value, str) else value
        try:
            raw = await self._script_and_get(
                keys=[rate_bucket(key), other], args=[self.capacity, self.refill, cost]
            )
        except (RedisError, OSError):
            # In-process buckets meanwhile; the outage is logged once (api/outages.py).
            return self._noted(key, cost, self._fallback.take(key, cost)), None
        retry = float(raw[0])
        value = raw[1] if len(raw) > 1 else None
        return self._noted(key, cost, None if retry <= 0 else round(retry, 3)), value
