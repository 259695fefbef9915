"""Alembic environment: async engine, metadata from api.db.tables.

The URL is `config.attributes["url"]` when the CLI passes one, else DATABASE_URL, else the
embedded PostgreSQL under QUANJING_HOME (started for the duration of the command).
"""

from __future__ import annotations

import asyncio
import contextlib
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from api.db.engine import async_url
from api.db.tables import Base
from api.ops.embedded import Infrastructure
from api.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url: str | None = config.attributes.get("url")
    with contextlib.ExitStack() as stack:
        if url is None:
            settings = Settings.from_env()
            url = stack.enter_context(Infrastructure(settings, redis=False)).database_url
        asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
