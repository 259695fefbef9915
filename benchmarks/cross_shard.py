"""`make bench-cross-shard`: what the queries that would cross shards cost on one node today.

    python -m benchmarks.cross_shard [--customers 1000000] [--runs 3]

On the campaign benchmark's bank (`.quanjing-bench-campaign`, built by `make bench-campaign`'s
grower when missing), times the bank-wide reads a customer-keyed Citus cluster would have to
spread over every shard: the 80/20 value report, a segment count, the RM league table and the
campaign report's statement; with, in the same run, the floor they all share — one scan of the
customers table. Identity resolution's blocking is measured by `make bench-resolve` (its own
1M bank). Results go to benchmarks/results/cross_shard.json; docs/scaling.md cites them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from api.db.engine import asyncpg_dsn, create_engine
from api.db.reports import SqlReports
from api.db.segments import SqlSegmentStore
from api.db.value_report import SqlValueReports
from api.ops.embedded import EmbeddedPostgres
from api.settings import Settings
from benchmarks.campaign import build_bank
from benchmarks.run import ROOT, machine
from domain.value.report import ReportScope
from domain.value.segments import BalanceMeasure, Clause, ClauseKind, SegmentRule
from domain.value.tiers import ValueTier

RESULTS = Path(__file__).resolve().parent / "results" / "cross_shard.json"
# A rule that reads two tables per customer: the value tier and the deposits held.
RULE = SegmentRule(
    clauses=(
        Clause(ClauseKind.TIER, tiers=(ValueTier.HIGH, ValueTier.POTENTIAL)),
        Clause(ClauseKind.BALANCE, measure=BalanceMeasure.DEPOSITS, minimum=Decimal("10000")),
    )
)


async def _times(work: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        seconds.append(time.perf_counter() - started)
    return {"best": round(min(seconds), 3), "median": round(statistics.median(seconds), 3)}


async def measure(url: str, settings: Settings, runs: int) -> dict[str, Any]:
    engine = create_engine(url, replace(settings, db_statement_timeout_ms=3_600_000))
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        period = await conn.fetchval("SELECT max(period) FROM value_periods")
        campaign = await conn.fetchval(
            "SELECT max(id) FROM campaigns WHERE launched_at IS NOT NULL"
        )

        async def scan() -> Any:
            return await conn.fetchval("SELECT count(*) FROM customers")

        value, segments, reports = (
            SqlValueReports(engine),
            SqlSegmentStore(engine),
            SqlReports(engine),
        )
        timed = {
            "baseline: one scan of customers": await _times(scan, runs),
            "valueReport (80/20, bank-wide)": await _times(
                lambda: value.report(period, ReportScope(), None), runs
            ),
            "segment count (tier and deposits)": await _times(lambda: segments.count(RULE), runs),
            "rmLeagueTable (bank-wide, first 50)": await _times(
                lambda: reports.league(period, None, 50, 0), runs
            ),
        }
        if campaign is not None:
            from api.db.campaign_runs import SqlCampaignRuns
            from api.db.campaigns import SqlCampaigns

            found = await SqlCampaigns(engine).get(campaign)
            assert found is not None
            campaign_runs = SqlCampaignRuns(engine)
            timed["campaign report's statement"] = await _times(
                lambda: campaign_runs.figures(found), runs
            )
        return {"period": str(period), "timings": timed}
    finally:
        await conn.close()
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cross_shard", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    home = Path(
        os.environ.get("QUANJING_BENCH_HOME") or ROOT / ".quanjing-bench-campaign"
    ).resolve()
    settings = replace(Settings.from_env({}), home=home, log_level="WARNING", db_pool_size=2)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    try:
        dataset = build_bank(url, settings, args.customers)
        figures = asyncio.run(measure(url, settings, args.runs))
    finally:
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": dataset,
        "runs": args.runs,
        **figures,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
