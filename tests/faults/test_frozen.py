"""PostgreSQL frozen (SIGSTOP) and Redis frozen under read load: the request limit holds,
/readyz says so within a second, and a frozen Redis costs agents' profile reads no more than
its fallbacks (≥ 50 % of the normal throughput, p99 ≤ 1 s)."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx

from domain.access.principal import Role
from schema.core.persisted import registry
from tests.faults.conftest import Stack
from tests.faults.harness import chaos_seconds, paced, percentile, report, serving, token

PROFILE = next(op.query for op in registry().values() if op.name == "call_center_profile")
AGENTS = 6
EVERY = 0.05  # each agent asks every 50 ms: a busy desk, not a flood


async def _reads(
    service_base: str, headers: dict[str, str], customers: list[str], seconds: float
) -> list[tuple[float, int]]:
    ids = itertools.cycle(customers)

    async def agent() -> list[tuple[float, int]]:
        async with httpx.AsyncClient(base_url=service_base, headers=headers) as http:
            body = {"query": PROFILE, "variables": {"id": next(ids)}}
            return await paced(http, body, seconds, EVERY)

    results = await asyncio.gather(*(agent() for _ in range(AGENTS)))
    return [r for batch in results for r in batch]


async def test_a_frozen_redis_costs_reads_no_more_than_their_fallbacks(stack: Stack) -> None:
    seconds = chaos_seconds(5)
    async with serving(stack.home, stack.postgres.url, stack.redis.url) as service:
        headers = {"authorization": f"Bearer {token(stack.home, Role.AGENT, 'agent-frozen')}"}
        normal = await _reads(service.base, headers, stack.customers, seconds)
        stack.redis.freeze()
        try:
            frozen = await _reads(service.base, headers, stack.customers, seconds)
        finally:
            stack.redis.thaw()
        after = await _reads(service.base, headers, stack.customers, 1.0)
        log = service.log_text()
    rate_normal, rate_frozen = len(normal) / seconds, len(frozen) / seconds
    p99_frozen = percentile([t for t, _ in frozen], 0.99)
    figures = {
        "seconds": seconds,
        "agents": AGENTS,
        "reads_per_second_normal": round(rate_normal, 1),
        "reads_per_second_frozen": round(rate_frozen, 1),
        "ratio": round(rate_frozen / rate_normal, 2),
        "p99_ms_normal": round(percentile([t for t, _ in normal], 0.99) * 1000, 1),
        "p99_ms_frozen": round(p99_frozen * 1000, 1),
        "statuses_frozen": sorted({s for _, s in frozen}),
    }
    report("redis_frozen", figures)
    assert {s for _, s in normal + frozen + after} == {200}, figures
    assert rate_frozen >= 0.5 * rate_normal, figures
    assert p99_frozen <= 1.0, figures
    assert log.count("redis unavailable") <= 2, log[-3000:]  # once per transition, not per read
    assert "Traceback" not in log, log[-3000:]


async def test_a_frozen_postgres_is_cut_at_the_request_limit_and_readyz_says_so(
    stack: Stack,
) -> None:
    async with serving(
        stack.home, stack.postgres.url, stack.redis.url, QUANJING_REQUEST_TIMEOUT_SECONDS="3"
    ) as service:
        headers = {"authorization": f"Bearer {token(stack.home, Role.AGENT, 'agent-hung')}"}
        before = await _reads(service.base, headers, stack.customers, 1.0)
        stack.postgres.freeze()
        try:
            async with httpx.AsyncClient(base_url=service.base) as http:
                started = time.monotonic()
                ready = await http.get("/readyz", timeout=10)
                ready_seconds = time.monotonic() - started
            # Fresh customers: not answered from the response cache, so they need PostgreSQL.
            during = await _reads(service.base, headers, stack.customers[20:], 4.0)
        finally:
            stack.postgres.thaw()
        await asyncio.sleep(1.0)
        after = await _reads(service.base, headers, stack.customers, 2.0)
    longest = max(t for t, _ in during)
    report(
        "postgres_frozen",
        {
            "request_limit_seconds": 3,
            "longest_request_seconds": round(longest, 2),
            "readyz_seconds": round(ready_seconds, 2),
            "statuses_during": sorted({s for _, s in during}),
        },
    )
    assert {s for _, s in before} == {200}
    assert ready.status_code == 503
    assert ready.json()["database"] == "timeout"
    assert ready_seconds < 1.5
    assert 504 in {s for _, s in during}
    assert longest < 3.5, longest  # the limit, not the limit and SQLAlchemy's cleanup
    assert {s for _, s in after[-5:]} == {200}  # recovered without a restart
