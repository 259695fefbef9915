"""Counter sessions in Redis: the key's TTL is the idle timeout, never past the absolute end."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.redis.keys import counter_failures, counter_session
from domain.access.counter_sessions import (
    LOCKOUT_SECONDS,
    MAX_FAILED_VERIFICATIONS,
    CounterSession,
    CounterSessionUnavailable,
)

P = ParamSpec("P")
R = TypeVar("R")


def _unknown_when_unreachable(
    method: Callable[Concatenate[RedisCounterSessionStore, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[RedisCounterSessionStore, P], Coroutine[Any, Any, R]]:
    """Redis down, frozen or behind an open breaker: the session is unknown, which the schema
    decides about (reads as without one, what needs the session refused)."""

    async def guarded(self: RedisCounterSessionStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            breaker = getattr(self.client, "breaker", None)
            raise CounterSessionUnavailable(
                5 if breaker is None else breaker.retry_after()
            ) from exc

    return guarded


class RedisCounterSessionStore:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        idle_seconds: int,
        absolute_seconds: int,
        max_failures: int = MAX_FAILED_VERIFICATIONS,
        lockout_seconds: int = LOCKOUT_SECONDS,
    ) -> None:
        self.client = client
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.max_failures = max_failures
        self.lockout = lockout_seconds

    @staticmethod
    def _key(teller: str, customer_id: int) -> str:
        return counter_session(teller, customer_id)

    @staticmethod
    def _failures(teller: str, customer_id: int) -> str:
        return counter_failures(teller, customer_id)

    def _session(
        self, teller: str, customer_id: int, opened: datetime, ends: datetime, now: datetime
    ) -> CounterSession:
        return CounterSession(
            teller=teller,
            customer_id=customer_id,
            opened_at=opened,
            idle_expires_at=min(ends, now + timedelta(seconds=self.idle)),
            expires_at=ends,
        )

    @_unknown_when_unreachable
    async def open(self, teller: str, customer_id: int) -> CounterSession:
        now = datetime.now(UTC)
        ends = now + timedelta(seconds=self.absolute)
        value = orjson.dumps({"opened": now.isoformat(), "ends": ends.isoformat()})
        ttl_ms = min(self.idle, self.absolute) * 1000
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._key(teller, customer_id), value, px=ttl_ms)
            pipe.delete(self._failures(teller, customer_id))
            await pipe.execute()
        return self._session(teller, customer_id, now, ends, now)

    @_unknown_when_unreachable
    async def touch(self, teller: str, customer_id: int) -> CounterSession | None:
        key = self._key(teller, customer_id)
        # GETEX reads and extends the idle timeout in one atomic step.
        raw = await self.client.getex(key, px=self.idle * 1000)
        if raw is None:
            return None
        data = orjson.loads(raw)
        now = datetime.now(UTC)
        ends = datetime.fromisoformat(data["ends"])
        remaining_ms = int((ends - now).total_seconds() * 1000)
        if remaining_ms <= 0:
            await self.client.delete(key)
            return None
        if remaining_ms < self.idle * 1000:
            await self.client.pexpire(key, remaining_ms)  # never outlive the absolute limit
        return self._session(teller, customer_id, datetime.fromisoformat(data["opened"]), ends, now)

    @_unknown_when_unreachable
    async def close(self, teller: str, customer_id: int) -> bool:
        return bool(await self.client.delete(self._key(teller, customer_id)))

    @_unknown_when_unreachable
    async def is_open(self, teller: str, customer_id: int) -> bool:
        # The key's TTL never passes the absolute end (see `touch`): existing is being open.
        return bool(await self.client.exists(self._key(teller, customer_id)))

    @_unknown_when_unreachable
    async def locked_for(self, teller: str, customer_id: int) -> int:
        key = self._failures(teller, customer_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        return max(int(ttl), 1) if count is not None and int(count) >= self.max_failures else 0

    @_unknown_when_unreachable
    async def failed(self, teller: str, customer_id: int) -> int:
        # Failures count within the lockout period from the first; the one that reaches the
        # limit locks the pair for the whole period from now. (EXPIRE … NX would say "from the
        # first" in one command; the embedded Redis predates it.)
        key = self._failures(teller, customer_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if int(count) >= self.max_failures or int(ttl) < 0:
            await self.client.expire(key, self.lockout)
        return self.lockout if int(count) >= self.max_failures else 0
