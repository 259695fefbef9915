"""PostgreSQL killed (`-m immediate`, as a crash) twice under idempotent write load, clients
retrying on their keys: no acknowledged write lost, none written twice, and the service
recovers without a restart."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx

from domain.access.principal import Role
from tests.faults.conftest import Stack
from tests.faults.harness import WriteLoad, chaos_seconds, report, serving, token

CLIENTS = 8


async def test_no_acknowledged_write_is_lost_or_doubled_when_postgres_is_killed(
    stack: Stack,
) -> None:
    seconds = chaos_seconds(12)
    kills = max(2, int(seconds // 6))
    async with serving(
        stack.home,
        stack.postgres.url,
        stack.redis.url,
        # The load, not the rate limit, is under test.
        QUANJING_RATE_REFILL_PER_SECOND="100000",
    ) as service:
        load = WriteLoad()
        headers = {
            "authorization": f"Bearer {token(stack.home, Role.INTEGRATION, 'core', client_id='core')}"
        }
        customers = itertools.cycle(stack.customers)
        deadline = time.monotonic() + seconds + 60  # every write is retried until acknowledged

        async def client() -> None:
            async with httpx.AsyncClient(base_url=service.base, headers=headers) as http:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    await load.one(http, next(customers), deadline)

        async def crashes() -> list[float]:
            downtimes = []
            for _ in range(kills):
                await asyncio.sleep(seconds / (kills + 1))
                stack.postgres.kill()
                went = time.monotonic()
                await asyncio.sleep(1.0)
                await asyncio.to_thread(stack.postgres.start)
                downtimes.append(time.monotonic() - went)
            return downtimes

        crashing = asyncio.create_task(crashes())
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        downtimes = await crashing
        log = service.log_text()
    keys = list(load.acknowledged)
    rows = await stack.fetch(
        "SELECT summary, count(*) AS n, array_agg(id) AS ids FROM interactions "
        "WHERE summary = ANY($1) GROUP BY summary",
        keys,
    )
    found = {r["summary"]: r["n"] for r in rows}
    lost = [k for k in keys if k not in found]
    doubled = {k: n for k, n in found.items() if n > 1}
    report(
        "postgres_killed",
        {
            "seconds": seconds,
            "kills": kills,
            "downtime_seconds": [round(d, 1) for d in downtimes],
            "acknowledged": len(keys),
            "found": len(found),
            "lost": len(lost),
            "duplicates": len(doubled),
            "retries": load.retries,
            "answers": load.statuses,
        },
    )
    assert len(keys) == load.sent
    assert not lost, lost[:5]
    assert not doubled, doubled
    # The kills were felt (else the test proved nothing), as 503s naming the database.
    assert load.statuses.get("503 SERVICE_UNAVAILABLE", 0) > 0, load.statuses
    # An outage is 503 naming the database, not a 500 or a traceback per request.
    assert not [s for s in load.statuses if s.startswith("500")], load.statuses
    assert "Traceback" not in log, log[-3000:]
