"""One stack for the fault tests: servers of their own, which the tests kill and freeze."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.ops.seed import seed
from api.settings import Settings
from domain.ids import encode_id
from tests.faults.harness import Postgres, Redis


@dataclass
class Stack:
    home: Path
    postgres: Postgres
    redis: Redis
    customers: list[str]  # global ids of seeded customers

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(self.postgres.url))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("faults")
    postgres = Postgres(home)
    redis = Redis(home)
    try:
        settings = Settings.from_env({"QUANJING_HOME": str(home)})
        migrate(postgres.url, settings)
        asyncio.run(
            seed(postgres.url, crypto=DocumentCrypto.from_settings(settings), customers=60, seed=3)
        )

        async def ids() -> list[str]:
            conn = await asyncpg.connect(asyncpg_dsn(postgres.url))
            try:
                rows = await conn.fetch("SELECT id FROM customers ORDER BY id LIMIT 40")
            finally:
                await conn.close()
            return [encode_id("Customer", r["id"]) for r in rows]

        yield Stack(home, postgres, redis, asyncio.run(ids()))
    finally:
        redis.thaw()
        redis.stop()
        postgres.stop()
