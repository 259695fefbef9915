"""Real servers for the whole suite: an embedded PostgreSQL and Redis in a temporary home,
migrated once, with a small deterministic demo bank seeded once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.bootstrap import Resources
from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import create_engine
from api.http.app import create_app
from api.http.tokens import mint_development_token
from api.ops.embedded import Endpoints, Infrastructure
from api.ops.seed import seed
from api.settings import Settings
from domain.access.principal import Role
from tests import factories, pgbouncer
from tests.pgbouncer import PgBouncer
from tests.statements import StatementCounter

SEEDED_CUSTOMERS = 300


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home: Path = tmp_path_factory.mktemp("home")
    # Tests always run on their own embedded servers, whatever the shell has configured.
    # The session's principals (the `client` RM among them) are shared by hundreds of tests:
    # with the production bucket, whether one of them is refused depended on how fast the
    # tests before it ran. Rate limiting is tested with its own tight settings (test_limits).
    return replace(
        Settings.from_env({}),
        home=home,
        database_url=None,
        redis_url=None,
        db_pool_size=5,
        rate_capacity=1_000_000,
        rate_refill_per_second=1_000_000,
        # The tests' webhook receivers listen on 127.0.0.1, an internal receiver's network.
        webhook_allowed_networks=(ip_network("127.0.0.0/8"),),
    )


@pytest.fixture(scope="session")
def crypto(settings: Settings) -> DocumentCrypto:
    return DocumentCrypto.from_settings(settings)


@pytest.fixture(scope="session", autouse=True)
def _factories_seal_with_the_test_keys(crypto: DocumentCrypto) -> None:
    factories.CRYPTO = crypto


@pytest.fixture(scope="session")
def endpoints(settings: Settings) -> Iterator[Endpoints]:
    with Infrastructure(settings) as found:
        migrate(found.database_url, settings)
        yield found


@pytest_asyncio.fixture(scope="session")
async def seeded(endpoints: Endpoints, crypto: DocumentCrypto) -> int:
    report = await seed(endpoints.database_url, crypto=crypto, customers=SEEDED_CUSTOMERS, seed=7)
    return report.customers


@pytest.fixture(scope="session")
def pooler(endpoints: Endpoints) -> Iterator[PgBouncer | None]:
    """PgBouncer in front of the server when QUANJING_TEST_PGBOUNCER=1 (`make test-scale`)."""
    if not pgbouncer.ENABLED:
        yield None
        return
    started = PgBouncer(endpoints.database_url)
    started.start()
    yield started
    started.stop()


@pytest_asyncio.fixture(scope="session")
async def engine(
    endpoints: Endpoints, settings: Settings, pooler: PgBouncer | None
) -> AsyncIterator[AsyncEngine]:
    # The app's engine: through PgBouncer when one runs (migrations, the seeder and the
    # tests' own asyncpg checks connect to the server directly).
    if pooler is None:
        created = create_engine(endpoints.database_url, settings)
    else:
        created = create_engine(pooler.url, replace(settings, db_pooler="pgbouncer"))
    yield created
    await created.dispose()


@pytest_asyncio.fixture(scope="session")
async def redis_client(endpoints: Endpoints) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(endpoints.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def statements(engine: AsyncEngine) -> StatementCounter:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter.record)
    return counter


class Minter(Protocol):
    def __call__(self, role: Role, subject: str = ..., **claims: Any) -> str: ...


@pytest.fixture(scope="session")
def mint(settings: Settings) -> Minter:
    def make(role: Role, subject: str = "tester", **claims: Any) -> str:
        return mint_development_token(settings, role=role, subject=subject, **claims)

    return make


@pytest_asyncio.fixture(scope="session")
async def app(
    settings: Settings, engine: AsyncEngine, redis_client: aioredis.Redis, seeded: int
) -> AsyncIterator[Starlette]:
    created = create_app(settings, Resources(engine=engine, redis=redis_client))
    created.state.relay.start()  # the lifespan would; ASGITransport runs none
    yield created
    await created.state.relay.stop()


@pytest_asyncio.fixture(scope="session")
async def anonymous(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://quanjing.test") as c:
        yield c


@pytest_asyncio.fixture(scope="session")
async def client(app: Starlette, mint: Minter) -> AsyncIterator[httpx.AsyncClient]:
    """A relationship manager whose portfolio holds every customer the factories make."""
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {mint(Role.RELATIONSHIP_MANAGER, 'rm1', rm=1)}"}
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://quanjing.test",
        headers=headers,
    ) as c:
        yield c


def as_production(settings: Settings, **changes: Any) -> Settings:
    """Production mode with the keys the test bank was sealed with (production takes keys
    from the environment, never from files)."""
    return replace(
        settings,
        environment="production",
        data_keys=(settings.home / "data-keys").read_text().strip(),
        lookup_key=(settings.home / "lookup-key").read_text().strip(),
        **changes,
    )
