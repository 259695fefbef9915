"""`make bench-detector`: fund-movement events per second through the detector.

    python -m benchmarks.detector [--customers 100000] [--events 20000] [--batch 500] [--quick]

Loads (or reuses) the benchmark bank, gives every open deposit holding three movements of
history, then records `--events` new movements (by default 0.5 % of them large enough to alert; `--large-share`) and puts
their events on the Redis Stream exactly as the outbox relay does. Two consumers read the same
stream in the same run: the **floor**, a consumer group that only reads and acknowledges
(what Redis and the loop cost), and the **detector**, the real `quanjing worker` code path
(rules loaded, facts gathered set-based per batch, alerts and contact tasks written, webhook
fan-out, acknowledgement). Results go to benchmarks/results/detector.json and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import redis.asyncio as aioredis

from api.bootstrap import build_worker
from api.db.engine import asyncpg_dsn, create_engine
from api.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from api.redis.events import STREAM, STREAM_FIELD, encode
from api.settings import Settings
from benchmarks.dataset import ensure
from benchmarks.report import DETECTOR_RESULTS, save
from benchmarks.run import ROOT, machine, postgres_cpu

_HISTORY = """
INSERT INTO fund_movements (holding_id, customer_id, amount, currency, direction,
    counterparty_kind, channel, booked_at, external_ref, request_hash, source)
SELECT h.id, h.customer_id, round(greatest(h.balance, 100) * (0.001 + random() * 0.05)::numeric, 2),
       h.currency, CASE WHEN random() < 0.5 THEN 'debit' ELSE 'credit' END, 'person',
       'mobile_app', now() - random() * interval '80 days', 'bench-h2-' || gen_random_uuid(),
       'bench', 'bench'
FROM holdings h JOIN products p ON p.id = h.product_id
CROSS JOIN generate_series(1, 3)
WHERE h.status <> 'closed' AND p.category IN ('deposit', 'time_deposit', 'debit_card')
"""

_EVENTS = """
INSERT INTO fund_movements (holding_id, customer_id, amount, currency, direction,
    counterparty_kind, channel, booked_at, external_ref, request_hash, source)
SELECT h.id, h.customer_id,
       CASE WHEN random() < $2 THEN 900000.00
            ELSE round(greatest(h.balance, 100) * (0.001 + random() * 0.05)::numeric, 2) END,
       h.currency, CASE WHEN random() < 0.5 THEN 'debit' ELSE 'credit' END, 'person',
       'mobile_app', now(), 'bench-e-' || gen_random_uuid(), 'bench', 'bench'
FROM (SELECT h.* FROM holdings h JOIN products p ON p.id = h.product_id
      WHERE h.status <> 'closed' AND p.category IN ('deposit', 'time_deposit', 'debit_card')
      ORDER BY random() LIMIT $1) h
RETURNING id, customer_id, holding_id, amount, currency, direction, booked_at
"""


async def prepare(
    url: str, redis: aioredis.Redis, events: int, large_share: float
) -> tuple[int, float]:
    """History (once), then `events` new movements on a fresh stream; (history rows, s)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        # Movements scale with the account (0.1–5 % of its balance), as they do in a bank;
        # history of an older shape is replaced. Earlier runs' alerts go, so cooldowns from
        # one run do not quieten the next.
        await conn.execute(
            "DELETE FROM alerts; DELETE FROM tasks WHERE created_by = 'detector'; "
            "DELETE FROM state_change_proposals WHERE proposed_by = 'detector'"
        )
        history = int(
            await conn.fetchval(
                "SELECT count(*) FROM fund_movements WHERE external_ref LIKE 'bench-h2-%'"
            )
        )
        started = time.perf_counter()
        if history == 0:
            await conn.execute("DELETE FROM fund_movements")
            await conn.execute(_HISTORY)
            await conn.execute("ANALYZE fund_movements")
            history = int(await conn.fetchval("SELECT count(*) FROM fund_movements"))
        history_seconds = time.perf_counter() - started
        rows = await conn.fetch(_EVENTS, events, large_share)
    finally:
        await conn.close()
    await redis.delete(STREAM)
    pipe = redis.pipeline(transaction=False)
    for n, row in enumerate(rows):
        message = encode(
            10**12 + n,  # ids made up for the bench
            row["customer_id"],
            "fund_movement.recorded",
            row["booked_at"],
            {
                "movementId": row["id"],
                "holdingId": row["holding_id"],
                "amount": str(row["amount"]),
                "currency": row["currency"],
                "direction": row["direction"],
                "bookedAt": row["booked_at"].isoformat(),
            },
        )
        pipe.xadd(STREAM, {STREAM_FIELD: message})
    await pipe.execute()
    return history, history_seconds


async def floor(redis: aioredis.Redis, events: int, batch: int) -> float:
    """Events per second a consumer group manages when it only reads and acknowledges."""
    await redis.xgroup_create(STREAM, "floor", id="0")
    done = 0
    started = time.perf_counter()
    while done < events:
        answer: Any = await redis.xreadgroup("floor", "f", {STREAM: ">"}, count=batch)
        ids = [m[0] for _, messages in answer for m in messages]
        await redis.xack(STREAM, "floor", *ids)
        done += len(ids)
    return events / (time.perf_counter() - started)


async def detect(
    settings: Settings, url: str, redis: aioredis.Redis, events: int, batch: int
) -> dict[str, Any]:
    engine = create_engine(url, settings)
    async with httpx.AsyncClient() as http:
        worker = build_worker(
            settings, engine, redis, http, group="detector-bench", batch=batch, schedule=False
        )
        await worker.ensure_group()
        me = psutil.Process()
        cpu_before, pg_before = me.cpu_times(), postgres_cpu()
        started = time.perf_counter()
        done = alerts = 0
        while done < events:
            report = await worker.process_once()
            done += report.events
            alerts += len(report.alerts)
        seconds = time.perf_counter() - started
        cpu_after, pg_after = me.cpu_times(), postgres_cpu()
    await engine.dispose()
    worker_cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {
        "events_per_second": events / seconds,
        "seconds": seconds,
        "alerts": alerts,
        "worker_cpu_ms_per_event": worker_cpu * 1000 / events,
        "postgres_cpu_ms_per_event": (pg_after - pg_before) * 1000 / events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detector", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions-per-customer", type=float, default=20.0)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--large-share",
        type=float,
        default=0.005,
        help="share of events above the large-movement threshold (default 0.005); raise it "
        "to measure a burst of alerts",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 customers, 2,000 events")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.events = 2000, 2000
    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / ".quanjing-bench").resolve()
    settings = replace(Settings.from_env({}), home=home, log_level="WARNING", db_pool_size=5)
    postgres, redis_server = EmbeddedPostgres(home), EmbeddedRedis(home)
    url, redis_url = postgres.start(), redis_server.start()
    try:
        dataset = ensure(url, settings, args.customers, args.interactions_per_customer)
        print(f"dataset: {dataset}", flush=True)

        async def run() -> dict[str, Any]:
            redis = aioredis.from_url(redis_url)
            try:
                history, history_seconds = await prepare(url, redis, args.events, args.large_share)
                print(f"history: {history:,} movements ({history_seconds:.1f} s)", flush=True)
                floor_rate = await floor(redis, args.events, args.batch)
                measured = await detect(settings, url, redis, args.events, args.batch)
            finally:
                await redis.aclose()
            return {"history_movements": history, "floor_events_per_second": floor_rate, **measured}

        measured = asyncio.run(run())
    finally:
        redis_server.stop()
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": {
            "customers": dataset.customers,
            "holdings": dataset.holdings,
            "interactions": dataset.interactions,
        },
        "events": args.events,
        "batch": args.batch,
        "large_share": args.large_share,
        **measured,
    }
    save(result, DETECTOR_RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
