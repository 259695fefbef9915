"""Scratch databases on the test server, for tests that must not touch the shared one."""

from __future__ import annotations

import asyncpg

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints


async def scratch_database(endpoints: Endpoints, name: str) -> str:
    """An empty database `name` (dropped first if it exists); returns its URL."""
    admin = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return endpoints.database_url.replace("/quanjing?", f"/{name}?", 1)
