"""`make bench-refusals`: what a rate-limited caller costs everybody else (issue 22, defect 8).

    python -m benchmarks.refusals [--quick]

One process, one event loop: the application over httpx's ASGI transport on a fresh embedded
PostgreSQL and Redis. A caller ("hammer") drains its bucket with a costly search and goes on
sending it; every answer is RATE_LIMITED. Measured in the same run, interleaved round by round:

- **parsed**: the early refusal switched off, so each refusal is parsed, validated, costed
  and sent to Redis before it is refused (what the service did before);
- **early**: the refusal memory (domain/access/rate_limits.RefusalMemory) answers from the
  last refusal, before anything is parsed.

Figures: the server's CPU per refusal (one at a time, timed inside the application), and a
bystander's latency (a cheap query every 15 ms) while four callers are refused 300 times a
second in all. Results:
benchmarks/results/refusals.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from starlette.types import ASGIApp, Receive, Scope, Send

from api.bootstrap import Resources
from api.cli import migrate
from api.db.engine import create_engine
from api.http.app import create_app
from api.http.graphql_view import GraphQLEndpoint
from api.http.tokens import mint_development_token
from api.ops.embedded import EmbeddedRedis
from api.settings import Settings
from benchmarks.load import percentile
from benchmarks.report import REFUSALS_RESULTS, write_report
from benchmarks.run import RESULTS, ROOT, machine, on_embedded
from domain.access.principal import Role
from domain.access.rate_limits import RefusalMemory

# Costs 601 of a 1,000-token bucket refilled at 100 a second: once refused, a hammer stays
# refused for seconds.
COSTLY = "{ customers(first: 100) { edges { cursor node { code displayName kind } } } }"
CHEAP = "{ __typename }"  # costs 1: every 15 ms stays well within the refill
BYSTANDER_EVERY = 0.015
HAMMER_RATE = 300  # refusals a second, all hammering callers together


async def _refused(client: httpx.AsyncClient) -> bool:
    """Send the costly query; True when it was refused (now and then the refill pays for it)."""
    body = (await client.post("/graphql", json={"query": COSTLY})).json()
    return bool(body.get("errors")) and body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def _switch(memory: RefusalMemory, early: bool) -> None:
    # Off: the memory never says it refused anyone, so every request is parsed and charged.
    if early:
        memory.__dict__.pop("has_refused", None)
    else:
        memory.has_refused = lambda bucket: False  # type: ignore[method-assign]


class Timed:
    """The application, with the time spent inside it summed: one request at a time, that is
    the server's CPU for it (the client's own work in this process is left out)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seconds = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.seconds += time.process_time() - started


async def _cpu_per_refusal(client: httpx.AsyncClient, timed: Timed, n: int) -> float:
    timed.seconds = 0.0
    refused = 0
    for _ in range(n):
        refused += await _refused(client)
    assert refused >= n * 0.99, refused
    return timed.seconds / n * 1e6


async def _bystander(
    hammers: list[httpx.AsyncClient], bystander: httpx.AsyncClient, seconds: float
) -> list[float]:
    stop = asyncio.Event()

    async def hammer(client: httpx.AsyncClient) -> None:
        # Open loop at a fixed rate, as the outside test found it (300 refusals a second in
        # all): each mode gets the same refusals, and pays for them in its own coin.
        every = len(hammers) / HAMMER_RATE
        while not stop.is_set():
            started = time.perf_counter()
            await _refused(client)
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))

    tasks = [asyncio.create_task(hammer(c)) for c in hammers]
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        body = (await bystander.post("/graphql", json={"query": CHEAP})).json()
        assert "errors" not in body, body
        took = time.perf_counter() - started
        latencies.append(took)
        await asyncio.sleep(max(0.0, BYSTANDER_EVERY - took))
    stop.set()
    await asyncio.gather(*tasks)
    return latencies


async def measure(settings: Settings, url: str, folder: Path, quick: bool) -> dict[str, Any]:
    redis = EmbeddedRedis(settings.home)
    redis_url = redis.start()
    await asyncio.to_thread(migrate, url, settings)  # alembic runs its own event loop
    tight = replace(settings, rate_capacity=1000, rate_refill_per_second=100)
    engine = create_engine(url, tight)
    client = aioredis.from_url(redis_url)
    try:
        app = create_app(tight, Resources(engine=engine, redis=client))
        timed = Timed(app)
        endpoint = next(  # the HTTP route's (the websocket route shares it)
            e for r in app.routes if isinstance(e := getattr(r, "app", None), GraphQLEndpoint)
        )
        assert endpoint.ports is not None
        assert endpoint.ports.rate_limiter is not None
        memory = endpoint.ports.rate_limiter.refusals

        def caller(subject: str) -> httpx.AsyncClient:
            token = mint_development_token(tight, role=Role.AGENT, subject=subject)
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=timed),
                base_url="http://quanjing.bench",
                headers={"authorization": f"Bearer {token}"},
            )

        hammers = [caller(f"hammer-{i}") for i in range(4)]
        bystander = caller("bystander")
        for hammer in hammers:  # drain each bucket: the first answer spends most of it
            await hammer.post("/graphql", json={"query": COSTLY})
            await _refused(hammer)
        rounds, n, seconds = (2, 300, 3.0) if quick else (3, 2000, 10.0)
        cpu: dict[str, list[float]] = {"parsed": [], "early": []}
        latency: dict[str, list[float]] = {"parsed": [], "early": []}
        for _ in range(rounds):
            for mode in ("parsed", "early"):
                _switch(memory, mode == "early")
                cpu[mode].append(await _cpu_per_refusal(hammers[0], timed, n))
                latency[mode] += await _bystander(hammers, bystander, seconds)
        _switch(memory, True)
        for c in [*hammers, bystander]:
            await c.aclose()
    finally:
        await client.aclose()
        await engine.dispose()
        redis.stop()
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "rounds": rounds,
        "refusals_per_round": n,
        "bystander_seconds_per_round": seconds,
        "hammering_callers": len(hammers),
    }
    for mode in ("parsed", "early"):
        result[mode] = {
            "cpu_us_per_refusal": round(min(cpu[mode]), 1),
            "bystander_requests": len(latency[mode]),
            "bystander_p50_ms": round(percentile(latency[mode], 50) * 1000, 2),
            "bystander_p99_ms": round(percentile(latency[mode], 99) * 1000, 2),
        }
    result["cpu_ratio"] = round(
        result["early"]["cpu_us_per_refusal"] / result["parsed"]["cpu_us_per_refusal"], 3
    )
    result["bystander_p99_ratio"] = round(
        result["early"]["bystander_p99_ms"] / result["parsed"]["bystander_p99_ms"], 3
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.refusals")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    result = on_embedded(
        ".quanjing-bench-refusals",
        lambda settings, url, folder: measure(settings, url, folder, args.quick),
    )
    REFUSALS_RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    latest = json.loads(RESULTS.read_text(encoding="utf-8"))
    write_report(latest, ROOT / "docs" / "benchmarks.md")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
