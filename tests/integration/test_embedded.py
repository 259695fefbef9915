"""Embedded servers start with the process, stop with it, and a second start reuses the data."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import asyncpg
import redis

from api.embedded import Infrastructure
from api.seed import asyncpg_dsn
from api.settings import Settings


async def _sql(url: str, statement: str) -> object:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


def test_a_second_start_finds_the_data_of_the_first(tmp_path: Path) -> None:
    settings = replace(Settings.from_env({}), home=tmp_path)
    with Infrastructure(settings) as first:
        asyncio.run(_sql(first.database_url, "CREATE TABLE kept (v text)"))
        asyncio.run(_sql(first.database_url, "INSERT INTO kept VALUES ('全景')"))
        redis.Redis.from_url(first.redis_url).set("kept", "全景")
    with Infrastructure(settings) as second:
        assert asyncio.run(_sql(second.database_url, "SELECT v FROM kept")) == "全景"
        assert redis.Redis.from_url(second.redis_url).get("kept") == "全景".encode()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "PostgreSQL was not stopped"


def test_configured_urls_start_nothing(tmp_path: Path) -> None:
    settings = replace(
        Settings.from_env({}),
        home=tmp_path,
        database_url="postgresql://db.example/x",
        redis_url="redis://cache.example/0",
    )
    with Infrastructure(settings) as endpoints:
        assert endpoints.database_url == "postgresql://db.example/x"
        assert endpoints.redis_url == "redis://cache.example/0"
    assert not (tmp_path / "postgres").exists()
