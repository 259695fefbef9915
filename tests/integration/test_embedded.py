"""Embedded servers start with the process, stop with it, and a second start reuses the data."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

from api.db.engine import asyncpg_dsn
from api.ops.embedded import MAX_CONNECTIONS, Infrastructure
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


def test_a_user_killed_hard_does_not_keep_postgresql_running_for_ever(tmp_path: Path) -> None:
    # Another process starts the cluster and is SIGKILLed: it never takes itself off the
    # wheel's list of the cluster's users.
    user = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from dataclasses import replace\n"
            "from pathlib import Path\n"
            "from api.ops.embedded import Infrastructure\n"
            "from api.settings import Settings\n"
            "settings = replace(Settings.from_env({}), home=Path(sys.argv[1]))\n"
            "with Infrastructure(settings, redis=False):\n"
            "    print('ready', flush=True)\n"
            "    time.sleep(60)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with user:
        assert user.stdout is not None
        assert user.stdout.readline().strip() == "ready"
        user.kill()
    assert (tmp_path / "postgres" / "postmaster.pid").exists()
    settings = replace(Settings.from_env({}), home=tmp_path)
    with Infrastructure(settings, redis=False) as again:
        assert asyncio.run(_sql(again.database_url, "SELECT 1")) == 1
    # This run forgot the dead user and, as the last one, stopped the cluster.
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "PostgreSQL was not stopped"


def test_the_first_start_sets_max_connections_where_it_takes_effect(tmp_path: Path) -> None:
    settings = replace(Settings.from_env({}), home=tmp_path)
    for _ in range(2):  # the first start of a data folder, and a later one
        with Infrastructure(settings, redis=False) as endpoints:
            assert asyncio.run(_sql(endpoints.database_url, "SHOW max_connections")) == str(
                MAX_CONNECTIONS
            )
    log = (tmp_path / "postgres" / "log").read_text(errors="replace")
    assert "cannot be changed without restarting the server" not in log


def test_the_embedded_redis_folder_is_its_owners_alone(tmp_path: Path) -> None:
    # redis-server writes its append-only file (customer data) readable by everyone.
    settings = replace(Settings.from_env({}), home=tmp_path)
    with Infrastructure(settings, redis=True) as endpoints:
        redis.Redis.from_url(endpoints.redis_url).set("k", "v")
    assert stat.S_IMODE((tmp_path / "redis").stat().st_mode) == 0o700


def test_the_embedded_redis_asks_every_client_for_its_password(tmp_path: Path) -> None:
    # Without one, any local user could read cached profiles and forge a counter session.
    settings = replace(Settings.from_env({}), home=tmp_path)
    with Infrastructure(settings, redis=True) as endpoints:
        assert redis.Redis.from_url(endpoints.redis_url).ping()
        url = urlsplit(endpoints.redis_url)
        stranger = redis.Redis(host=url.hostname or "", port=url.port or 0)
        with pytest.raises(redis.AuthenticationError):
            stranger.ping()
        stranger.close()
    config = tmp_path / "redis" / "redis.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    password = url.password or ""
    assert len(password) >= 32
    assert password not in (tmp_path / "redis" / "redis.log").read_text(errors="replace")
