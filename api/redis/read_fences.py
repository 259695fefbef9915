"""Read-your-writes fences, kept per caller in Redis (the `ReadConsistency` port; the routing
that reads them is api/db/replicas.py, which documents the design).

After a mutation the primary's WAL position is the caller's fence, stored under the caller
(`qj:written:{caller}`, in the slot of their rate bucket) and in this process; around a read-only
operation it is looked up and set in `READ_FENCE`, where the routed engine compares it with each
replica's replay position. A fence that cannot be read leaves the operation on the primary.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.redis.keys import written_fence
from domain.ports import READ_FENCE

log = logging.getLogger(__name__)

# How long a caller's fence is kept: well past the lag at which a replica is skipped anyway.
FENCE_TTL_SECONDS = 300
_LOCAL_FENCES = 100_000  # callers remembered in process, beyond which the oldest are dropped
UNKNOWN = 2**63 - 1  # a write whose position could not be read: the primary until it expires

# KEYS[1] the caller's fence; ARGV: the LSN as 16 hex digits (compared as strings: exact,
# where Lua's doubles would round past 2^53), the TTL. Raised only: two writes of one caller
# finishing out of order leave the later position.
_RAISE_FENCE = """
local current = redis.call('GET', KEYS[1])
if not current or ARGV[1] > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


def _hex(lsn: int) -> str:
    return f"{lsn:016x}"


class ReadYourWrites:
    """The `ReadConsistency` port: fences kept per caller in Redis and in this process."""

    def __init__(self, primary_lsn: Callable[[], Awaitable[int]], redis: aioredis.Redis) -> None:
        self._primary_lsn = primary_lsn
        self._redis = redis
        self._raise = redis.register_script(_RAISE_FENCE)
        # caller → (fence, monotonic expiry): this process's own writes, in case Redis failed
        self._local: dict[str, tuple[int, float]] = {}

    @contextlib.asynccontextmanager
    async def reading(self, caller: str) -> AsyncIterator[None]:
        fence = await self._fence(caller)
        if fence is None:
            yield  # unknown: the primary
            return
        token = READ_FENCE.set(fence)
        try:
            yield
        finally:
            READ_FENCE.reset(token)

    async def written(self, caller: str) -> None:
        try:
            lsn = await self._primary_lsn()
        except Exception:  # the write is done; its position unknown: the primary for a while
            log.warning("a write's WAL position could not be read", exc_info=True)
            lsn = UNKNOWN
        self._remember(caller, lsn)
        try:
            await self._raise(keys=[written_fence(caller)], args=[_hex(lsn), FENCE_TTL_SECONDS])
        except (RedisError, OSError) as exc:
            log.warning("a write's fence was not stored in Redis: %s", exc)

    async def _fence(self, caller: str) -> int | None:
        local = self._local.get(caller)
        try:
            stored = await self._redis.get(written_fence(caller))
        except (RedisError, OSError):
            return None
        fence = int(stored, 16) if stored else 0
        if local is not None and local[1] > time.monotonic():
            fence = max(fence, local[0])
        return fence

    def _remember(self, caller: str, lsn: int) -> None:
        previous = self._local.pop(caller, None)
        if previous is not None:
            lsn = max(lsn, previous[0])
        self._local[caller] = (lsn, time.monotonic() + FENCE_TTL_SECONDS)
        if len(self._local) > _LOCAL_FENCES:  # dicts keep insertion order: the oldest first
            del self._local[next(iter(self._local))]
