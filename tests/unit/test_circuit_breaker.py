"""The request path's Redis breaker (api/redis/guarded.py) and what counts as an outage
(api/outages.py): fail fast while open, one probe at a time when half-open, closed by a success."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa

from api.outages import DATABASE, REDIS, Outages, dependency_of
from api.redis.guarded import BreakerOpen, CircuitBreaker
from domain.errors import DependencyUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _fail() -> None:
    raise RedisTimeoutError("Timeout reading from socket")


async def _ok() -> str:
    return "PONG"


async def test_the_breaker_opens_after_repeated_failures_and_fails_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, open_seconds=5, clock=clock)
    for _ in range(3):
        with pytest.raises(RedisTimeoutError):
            await breaker.call(_fail)
    assert breaker.state == "open"
    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "PONG"

    with pytest.raises(BreakerOpen):
        await breaker.call(counted)
    assert calls == 0  # not even tried
    assert breaker.retry_after() == 5


async def test_half_open_lets_one_probe_through_and_a_success_closes_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_seconds=5, clock=clock)
    with pytest.raises(RedisTimeoutError):
        await breaker.call(_fail)
    clock.now += 5
    assert breaker.state == "half-open"
    release = asyncio.Event()

    async def slow_probe() -> str:
        await release.wait()
        return "PONG"

    probe = asyncio.create_task(breaker.call(slow_probe))
    await asyncio.sleep(0)
    with pytest.raises(BreakerOpen):  # a second caller while the probe is out: fails fast
        await breaker.call(_ok)
    release.set()
    assert await probe == "PONG"
    assert breaker.state == "closed"
    assert await breaker.call(_ok) == "PONG"


async def test_a_failed_probe_reopens_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_seconds=5, clock=clock)
    with pytest.raises(RedisTimeoutError):
        await breaker.call(_fail)
    clock.now += 6
    with pytest.raises(RedisTimeoutError):
        await breaker.call(_fail)
    assert breaker.state == "open"
    clock.now += 4.9
    with pytest.raises(BreakerOpen):
        await breaker.call(_ok)


async def test_an_error_reply_is_redis_answering_not_an_outage() -> None:
    breaker = CircuitBreaker(failures=1, open_seconds=5, clock=Clock())

    async def wrong_type() -> None:
        raise ResponseError("WRONGTYPE")

    for _ in range(3):
        with pytest.raises(ResponseError):
            await breaker.call(wrong_type)
    assert breaker.state == "closed"


async def test_transitions_are_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outages = Outages()
    breaker = CircuitBreaker(failures=2, open_seconds=1, outages=outages, clock=clock)
    caplog.set_level(logging.INFO)
    for _ in range(10):
        with pytest.raises(RedisTimeoutError):
            await breaker.call(_fail)
        clock.now += 2  # each failure is a failed probe: reopened, not logged again
    assert outages.is_down(REDIS)
    await breaker.call(_ok)
    assert not outages.is_down(REDIS)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("redis unavailable")
    assert messages[1].startswith("redis available again")


def test_what_counts_as_a_dependency_s_outage() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed")
    assert dependency_of(refused) == DATABASE
    wrapped = sa.OperationalError("SELECT 1", {}, asyncpg.exceptions.CannotConnectNowError())
    assert dependency_of(wrapped) == DATABASE
    invalidated = sa.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert dependency_of(invalidated) == DATABASE
    assert dependency_of(RedisTimeoutError("slow")) == REDIS
    assert dependency_of(BreakerOpen("open")) == REDIS
    assert dependency_of(DependencyUnavailable("database")) == DATABASE
    outer = RuntimeError("while reading the profile")
    outer.__cause__ = refused
    assert dependency_of(outer) == DATABASE
    # A statement's own failure is a bug or bad data, not an outage.
    assert dependency_of(sa.IntegrityError("INSERT", {}, Exception("duplicate"))) is None
    assert dependency_of(asyncpg.exceptions.UniqueViolationError()) is None
    assert dependency_of(ValueError("bad")) is None
    assert dependency_of(ResponseError("WRONGTYPE")) is None
