"""Every read of personal data in the end-to-end suite must have left an audit record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.settings import Settings
from tests.websocket import served

# Keys whose non-empty values in a response are personal data of some customer.
PERSONAL_KEYS = frozenset(
    {
        "displayName",
        "documents",
        "contactPoints",
        "personal",
        "birthDate",
        "number",
        "accountNumber",
        "evidence",
    }
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


async def _record_personal_reads(request: httpx.Request, response: httpx.Response) -> None:
    if request.url.path != "/graphql" or response.status_code != 200:
        return
    if "json" not in response.headers.get("content-type", ""):
        return  # GraphiQL's page
    await response.aread()
    body = response.json()
    if isinstance(body, dict) and _has_personal_data(body.get("data")):
        _reads.append(response.headers["x-request-id"])


@pytest.fixture(scope="session", autouse=True)
def _every_app_reports_its_reads() -> Iterator[None]:
    """Every app a test builds is called in-process through httpx's ASGITransport: each
    answer it gives is looked at, not only the shared clients' (a test's own app with
    different settings is where an unaudited path would hide)."""
    original = httpx.ASGITransport.handle_async_request

    async def handle(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
        response = await original(self, request)
        await _record_personal_reads(request, response)
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.ASGITransport, "handle_async_request", handle)
        yield


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
