"""Every read of personal data in the end-to-end suite must have left an audit record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.embedded import Endpoints
from api.seed import asyncpg_dsn
from api.settings import Settings
from tests.websocket import served

# Keys whose non-empty values in a response are personal data of some customer.
PERSONAL_KEYS = frozenset(
    {"displayName", "documents", "contactPoints", "personal", "birthDate", "number"}
)
_reads: list[str] = []


def _has_personal_data(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            (k in PERSONAL_KEYS and v not in (None, [], {})) or _has_personal_data(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_personal_data(v) for v in value)
    return False


async def record_personal_reads(response: httpx.Response) -> None:
    if response.request.url.path != "/graphql" or response.status_code != 200:
        return
    await response.aread()
    body = response.json()
    if isinstance(body, dict) and _has_personal_data(body.get("data")):
        _reads.append(response.headers["x-request-id"])


@pytest.fixture(scope="module")
async def server(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """The test application behind a real uvicorn server (websockets need one)."""
    async with served(app, settings) as address:
        yield address


@pytest.fixture(autouse=True)
def _reads_of_this_test() -> list[str]:
    _reads.clear()
    return _reads


@pytest.fixture(autouse=True)
async def _every_personal_read_is_audited(
    _reads_of_this_test: list[str], request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    yield
    if not _reads_of_this_test or "endpoints" not in request.fixturenames:
        return
    endpoints: Endpoints = request.getfixturevalue("endpoints")
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        audited = {
            r["correlation_id"]
            for r in await conn.fetch(
                "SELECT correlation_id FROM audit_records WHERE correlation_id = ANY($1)",
                _reads_of_this_test,
            )
        }
    finally:
        await conn.close()
    missing = [c for c in _reads_of_this_test if c not in audited]
    assert not missing, f"personal data returned without an audit record: {missing}"
