"""`make bench-value`: every customer's contribution and tier, scored for a month.

    python -m benchmarks.value [--customers 1000000] [--period YYYY-MM] [--quick]

Loads (or reuses) the benchmark bank, gives every open deposit holding three movements of
history when it has none (as `make bench-detector` does, with a fee on one holding in fifty),
then runs `quanjing score` for the month twice — the first run on a month with no earlier
scores, the second replacing the first (what a re-run after a rate change costs) — and reports
the seconds, the data size and the machine. Goal: 1,000,000 customers in at most 5 minutes.
Results go to benchmarks/results/value.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from api.db.engine import asyncpg_dsn, create_engine
from api.db.value_store import SqlValueStore
from api.ops.embedded import EmbeddedPostgres
from api.settings import Settings
from benchmarks.dataset import ensure
from benchmarks.detector import _HISTORY
from benchmarks.report import VALUE_RESULTS, save
from benchmarks.run import ROOT, machine
from domain.value.contribution import format_period, parse_period, shift_period

_FEES = """
INSERT INTO fund_movements (holding_id, customer_id, amount, currency, direction,
    counterparty_kind, channel, booked_at, external_ref, request_hash, source)
SELECT h.id, h.customer_id, 15.00, h.currency, 'debit', 'bank_fee', 'counter',
       now() - random() * interval '60 days', 'bench-fee-' || gen_random_uuid(), 'bench', 'bench'
FROM holdings h WHERE h.status <> 'closed' AND h.id % 50 = 0
"""


async def prepare(url: str, period: date) -> dict[str, int]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if not await conn.fetchval("SELECT count(*) FROM fund_movements"):
            await conn.execute(_HISTORY)
            await conn.execute(_FEES)
            await conn.execute("ANALYZE fund_movements")
        end = shift_period(period, 1)
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM fund_movements) AS movements, "
            "(SELECT count(*) FROM interactions WHERE occurred_at >= $1 AND occurred_at < $2) "
            "AS interactions_in_month",
            datetime.combine(period, datetime.min.time(), UTC),
            datetime.combine(end, datetime.min.time(), UTC),
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


async def score(settings: Settings, url: str, period: date) -> list[dict[str, Any]]:
    engine = create_engine(url, replace(settings, db_statement_timeout_ms=3_600_000))
    try:
        store = SqlValueStore(engine)
        runs = []
        for label in ("first", "again"):
            started = time.perf_counter()
            summary = await store.score(period, settings.high_value_share)
            seconds = time.perf_counter() - started
            print(f"{label}: {summary.customers:,} customers in {seconds:.1f} s", flush=True)
            runs.append(
                {
                    "run": label,
                    "seconds": round(seconds, 1),
                    "customers": summary.customers,
                    "tiers": {t.value: n for t, n in summary.tiers.items()},
                    "cutoff": None if summary.cutoff is None else str(summary.cutoff),
                }
            )
        return runs
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.value", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--interactions-per-customer", type=float, default=20.0)
    parser.add_argument("--period", help="the month to score (default: last month)")
    parser.add_argument("--quick", action="store_true", help="2,000 customers")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 2000
    today = datetime.now(UTC).date()
    period = parse_period(args.period) if args.period else shift_period(today.replace(day=1), -1)
    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / ".quanjing-bench").resolve()
    settings = replace(Settings.from_env({}), home=home, log_level="WARNING", db_pool_size=2)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    try:
        dataset = ensure(url, settings, args.customers, args.interactions_per_customer)
        print(f"dataset: {dataset}", flush=True)
        sizes = asyncio.run(prepare(url, period))
        runs = asyncio.run(score(settings, url, period))
    finally:
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": {
            "customers": dataset.customers,
            "holdings": dataset.holdings,
            "interactions": dataset.interactions,
            **sizes,
        },
        "period": format_period(period),
        "high_share": str(Decimal(settings.high_value_share)),
        "runs": runs,
    }
    save(result, VALUE_RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
