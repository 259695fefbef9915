"""The async engine and session factory, owned by the application's lifespan."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.settings import Settings

POOLER = "quanjing_pooler"


def async_url(url: str) -> str:
    """Accept the usual `postgresql://` / `postgres://` URLs and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    server_settings = {
        "application_name": "quanjing",
        # A runaway query is cut off by the database, not left to hold a connection.
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "idle_in_transaction_session_timeout": "60000",
    }
    connect_args: dict[str, Any] = {
        # asyncpg waits 60 s for a connection by default; a server that does not answer
        # should cost a request a 503 within its time limit instead.
        "timeout": settings.db_connect_timeout_seconds,
        "server_settings": server_settings,
    }
    target = async_url(url)
    if settings.db_pooler == "pgbouncer":
        target, pooled = behind_pgbouncer(target)
        connect_args.update(pooled)
        # PgBouncer passes application_name on and refuses other startup parameters; the
        # timeouts are the database role's there (docs/scaling.md, stage 2).
        server_settings.pop("statement_timeout")
        server_settings.pop("idle_in_transaction_session_timeout")
        # Spelt as the server reports it: PgBouncer compares the client's startup value with
        # each server connection's as strings, and asyncpg's "utf-8" against the server's
        # "UTF8" cost a `SET client_encoding` before every transaction.
        server_settings["client_encoding"] = "UTF8"
    return create_async_engine(
        target,
        pool_size=settings.db_pool_size,
        max_overflow=max(5, settings.db_pool_size // 3),
        pool_pre_ping=False,  # a dead connection surfaces as an error and is replaced; no extra round trip
        # Statement parameters hold names, phones and document numbers searched for: an error
        # logged with its statement must not carry them into the log.
        hide_parameters=True,
        connect_args=connect_args,
        # Read back by `autocommit` (engine-level execution options are the engine's own).
        execution_options={POOLER: settings.db_pooler},
    )


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` running each statement outside a transaction, which saves a read its BEGIN
    and COMMIT round trips — except behind PgBouncer in transaction mode, where a statement
    outside a transaction may be prepared on one server connection and executed on another
    (`prepared statement … does not exist`): there each read keeps its transaction."""
    if engine.get_execution_options().get(POOLER) == "pgbouncer":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def behind_pgbouncer(url: str) -> tuple[str, dict[str, Any]]:
    """What makes asyncpg and SQLAlchemy safe behind PgBouncer in transaction mode, where each
    transaction — each statement, outside one — may run on another server connection:

    - asyncpg's statement cache off (`statement_cache_size=0`): a statement prepared on one
      server connection is not there on the next; asyncpg then parses again before each use
      (asyncpg ≥ 0.29) instead of relying on a prepared statement across a pooler boundary;
    - SQLAlchemy's own cache of prepared statements off (`prepared_statement_cache_size=0`);
    - each statement SQLAlchemy prepares named uniquely (`prepared_statement_name_func`): a
      server connection may still hold a statement another client prepared, and asyncpg's
      counter-based names (`__asyncpg_stmt_1__`) would collide with it.
    """
    parsed = make_url(url).update_query_dict({"prepared_statement_cache_size": "0"})
    return parsed.render_as_string(hide_password=False), {
        "statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4().hex}__",
    }


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def asyncpg_dsn(database_url: str) -> str:
    """The URL for asyncpg itself (bulk loads, COPY, tools): no SQLAlchemy driver name."""
    return async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)


def pool_usage(engine: AsyncEngine) -> tuple[int, int]:
    """(connections checked out, callers waiting for one) of the engine's pool, for the
    metrics. The waiters are read from the pool's asyncio queue: SQLAlchemy counts them nowhere
    else, and a pool with waiters is the first sign that it is too small."""
    pool: Any = engine.sync_engine.pool
    in_use = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    waiting = len(getattr(queue, "_getters", ()) or ())
    return in_use, waiting
