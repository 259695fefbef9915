"""Redis stopped under read and write load: reads and writes go on (no 5xx), and every event
written meanwhile is published once Redis is back (the outbox)."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx

from domain.access.principal import Role
from tests.faults.conftest import Stack
from tests.faults.harness import WriteLoad, chaos_seconds, paced, report, serving, token
from tests.faults.test_frozen import PROFILE


async def test_reads_and_writes_go_on_while_redis_is_stopped_and_events_follow(
    stack: Stack,
) -> None:
    seconds = chaos_seconds(6)
    async with serving(
        stack.home, stack.postgres.url, stack.redis.url, QUANJING_RATE_REFILL_PER_SECOND="100000"
    ) as service:
        agent = {"authorization": f"Bearer {token(stack.home, Role.AGENT, 'agent-stopped')}"}
        core = {
            "authorization": f"Bearer {token(stack.home, Role.INTEGRATION, 'core', client_id='core')}"
        }
        since = (await stack.fetch("SELECT now() AS t"))[0]["t"]
        stack.redis.stop()
        stopped_at = time.monotonic()
        load = WriteLoad()
        ids = itertools.cycle(stack.customers)

        async def reader() -> list[tuple[float, int]]:
            async with httpx.AsyncClient(base_url=service.base, headers=agent) as http:
                return await paced(
                    http, {"query": PROFILE, "variables": {"id": next(ids)}}, seconds, 0.05
                )

        async def writer() -> None:
            async with httpx.AsyncClient(base_url=service.base, headers=core) as http:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    await load.one(http, next(ids), end + 30)

        results = await asyncio.gather(reader(), reader(), writer(), writer())
        reads = [r for batch in results[:2] if batch for r in batch]
        stack.redis.start()
        down_seconds = time.monotonic() - stopped_at
        keys = list(load.acknowledged)
        published_after = None
        for _ in range(150):
            [counts] = await stack.fetch(
                "SELECT count(*) AS written, count(*) FILTER (WHERE published_at IS NULL) AS n "
                "FROM outbox WHERE created_at >= $1",
                since,
            )
            waiting = [counts]
            if waiting[0]["n"] == 0:
                published_after = time.monotonic() - stopped_at - down_seconds
                break
            await asyncio.sleep(0.2)
        log = service.log_text()
    report(
        "redis_stopped",
        {
            "seconds_down": round(down_seconds, 1),
            "reads": len(reads),
            "read_statuses": sorted({s for _, s in reads}),
            "writes_acknowledged": len(keys),
            "events_written_meanwhile": counts["written"],
            "write_answers": load.statuses,
            "outbox_published_seconds_after_return": None
            if published_after is None
            else round(published_after, 1),
        },
    )
    assert reads
    assert {s for _, s in reads} == {200}
    assert keys
    assert set(load.statuses) == {"200"}, load.statuses
    assert counts["written"] >= len(keys)
    assert published_after is not None, "events written while Redis was down were not published"
    assert "Traceback" not in log, log[-3000:]
