"""`make bench-statements`: what one SQL round trip costs the server's CPU, by way of access.

    python -m benchmarks.statement_cost [--statements 5000]

The same one-row SELECT (a customer's relationship manager by id, as a write's customer check
reads it) is sent over one pooled connection of the benchmark database, on uvloop as the
server runs, four ways: a SQLAlchemy Core statement built once (how the service sends its hot
statements), a `text()` statement, `exec_driver_sql` (no compilation at all), and asyncpg
directly on the same connection. Then one statement inside a transaction (BEGIN … COMMIT),
through SQLAlchemy and through asyncpg. Figures are client CPU (process time) per statement:
PostgreSQL's own time is not in them, and they do not depend on the machine's other load the
way wall time does. Results go to benchmarks/results/statement_cost.json.

Why: a write is six round trips and the uncached profile one; this tells what replacing
SQLAlchemy's execution layer on those paths could save, before anyone builds it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop  # the event loop uvicorn[standard] serves on
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import create_engine
from api.db.tables import CustomerRow
from api.ops.embedded import EmbeddedPostgres
from api.settings import Settings
from benchmarks.dataset import ensure
from benchmarks.run import ROOT, machine

SAVED = ROOT / "benchmarks" / "results" / "statement_cost.json"
_SQL = "SELECT relationship_manager_id FROM customers WHERE id = $1"
_CORE = select(CustomerRow.relationship_manager_id).where(CustomerRow.id == bindparam("cid"))
_TEXT = text("SELECT relationship_manager_id FROM customers WHERE id = :cid")


async def _per_call(count: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Microseconds of this process's CPU per call, after a warm-up (prepared statements)."""
    for i in range(200):
        await call(i + 1)
    started = time.process_time()
    for i in range(count):
        await call(i % 50_000 + 1)
    return round((time.process_time() - started) / count * 1e6, 1)


async def measure(url: str, settings: Settings, count: int) -> dict[str, float]:
    engine = create_engine(url, settings)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            figures = {
                "sqlalchemy_core": await _per_call(
                    count, lambda i: conn.execute(_CORE, {"cid": i})
                ),
                "sqlalchemy_text": await _per_call(
                    count, lambda i: conn.execute(_TEXT, {"cid": i})
                ),
                "sqlalchemy_exec_driver_sql": await _per_call(
                    count, lambda i: conn.exec_driver_sql(_SQL, (i,))
                ),
                "asyncpg": await _per_call(count, lambda i: raw.fetchrow(_SQL, i)),
            }
            await conn.rollback()  # the statements above autobegan a transaction

            async def sqlalchemy_transaction(i: int) -> None:
                await conn.begin()
                await conn.execute(_CORE, {"cid": i})
                await conn.commit()

            async def asyncpg_transaction(i: int) -> None:
                async with raw.transaction():
                    await raw.fetchrow(_SQL, i)

            transactions = count // 5
            figures["sqlalchemy_begin_statement_commit"] = await _per_call(
                transactions, sqlalchemy_transaction
            )
            figures["asyncpg_begin_statement_commit"] = await _per_call(
                transactions, asyncpg_transaction
            )
        figures["sqlalchemy_connect_and_close"] = await _per_call(
            count // 5, lambda i: _connect_and_close(engine)
        )
        return figures
    finally:
        await engine.dispose()


async def _connect_and_close(engine: AsyncEngine) -> None:
    async with engine.connect():
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.statement_cost", description=__doc__
    )
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args(argv)
    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / ".quanjing-bench").resolve()
    settings = replace(Settings.from_env({}), home=home)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    try:
        dataset = ensure(url, settings, args.customers, 20.0)
        figures = uvloop.run(measure(url, settings, args.statements))
    finally:
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "customers": dataset.customers,
        "statements": args.statements,
        "client_cpu_us_per_call": figures,
    }
    SAVED.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, value in figures.items():
        print(f"{name:36} {value:8.1f} µs")
    print(f"wrote {SAVED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
