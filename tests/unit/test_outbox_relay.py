"""The relay's wake-up is never lost: a commit during a publishing pass gets a pass of its own."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import create_async_engine

from api.worker.outbox_relay import OutboxRelay


class _Relay(OutboxRelay):
    """Publishing and housekeeping replaced: the first pass is woken by a commit mid-way."""

    def __init__(self) -> None:
        # Neither is connected to: the overridden methods never reach them.
        super().__init__(
            create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"),
            aioredis.Redis(host="127.0.0.1", port=1),
            poll_seconds=3600,  # only a wake can bring a second pass within this test
        )
        self.passes = 0
        self.second_pass = asyncio.Event()

    async def publish_pending(self) -> int:
        self.passes += 1
        if self.passes == 1:
            self.wake()  # a commit lands while this pass publishes
        else:
            self.second_pass.set()
        return 0

    async def housekeeping(self) -> None:
        return None


async def test_a_wake_during_a_publishing_pass_brings_another_pass() -> None:
    relay = _Relay()
    relay.start()
    try:
        # The wake used to be cleared after the pass, so this waited for the hour's poll.
        await asyncio.wait_for(relay.second_pass.wait(), timeout=10)
    finally:
        await relay.stop()
    assert relay.passes >= 2


async def test_a_database_outage_is_named_as_the_database_s(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 22, defect 6: asyncpg's refusal is an OSError, which the relay took for Redis's."""
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    relay = OutboxRelay(engine, aioredis.Redis(host="127.0.0.1", port=1), poll_seconds=3600)
    caplog.set_level(logging.WARNING)
    relay.start()
    try:
        for _ in range(50):
            if caplog.records:
                break
            await asyncio.sleep(0.1)
    finally:
        await relay.stop()
        await engine.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert messages
    assert messages[0].startswith("outbox relay: database unavailable"), messages
    assert not any("Redis" in m or "redis" in m for m in messages), messages
