"""Dependency outages: which failures mean the database or Redis is away, and one log line
when each goes and one when it comes back.

A request that fails because PostgreSQL or Redis is down is not a bug: the client gets 503
SERVICE_UNAVAILABLE naming the dependency, with Retry-After (schema/core/error_masking.py,
api/http/graphql_view.py), and the log gets one WARNING per transition instead of a traceback
per request. While the database is marked down a probe (`SELECT 1`, at most one a second)
watches for its return; Redis's return is seen by the circuit breaker's probe
(api/redis/guarded.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa

from api.metrics import DEPENDENCY_UP
from domain.errors import DependencyUnavailable

log = logging.getLogger("quanjing.outages")

DATABASE = "database"
REDIS = "redis"
RETRY_AFTER_SECONDS = 5
PROBE_SECONDS = 1.0

# asyncpg's errors that say the server (not the statement) failed: the connection is gone
# (08xxx), the server is shutting down or starting (57P0x), or it cannot take a connection.
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    sa.DisconnectionError,
    # The pool waited its `pool_timeout` for a connection: the database does not give them.
    sa.TimeoutError,
    # asyncpg raises the operating system's error when the server cannot be reached at all
    # (refused, no route, no socket file) and asyncio's when connecting takes too long;
    # redis-py wraps its own in RedisConnectionError, so a bare one is the database's.
    ConnectionError,
    TimeoutError,
    FileNotFoundError,
)


def dependency_of(error: BaseException | None) -> str | None:
    """The dependency whose outage `error` is, or None for any other failure. Follows the
    exception's causes: SQLAlchemy and graphql-core wrap the driver's error."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, DependencyUnavailable):
            return error.dependency
        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            return REDIS
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return DATABASE
        if isinstance(error, _DATABASE_ERRORS):
            return DATABASE
        # graphql-core's located error, SQLAlchemy's wrapper of the driver's, then the chain.
        wrapped = getattr(error, "original_error", None) or getattr(error, "orig", None)
        error = wrapped or error.__cause__ or error.__context__
        seen += 1
    return None


class Outages:
    """The process's view of its dependencies: up, or down since when. `unavailable` turns a
    failure into the client's error (and records the outage); `down`/`up` log transitions."""

    def __init__(self, database_probe: Callable[[], Awaitable[object]] | None = None) -> None:
        self.database_probe = database_probe
        self._down_since: dict[str, float] = {}
        for dependency in (DATABASE, REDIS):
            DEPENDENCY_UP.labels(dependency).set(1)
        self._probe: asyncio.Task[None] | None = None

    def unavailable(self, error: BaseException | None) -> DependencyUnavailable | None:
        dependency = dependency_of(error)
        if dependency is None:
            return None
        self.down(dependency, error)
        if isinstance(error, DependencyUnavailable):
            return error
        return DependencyUnavailable(dependency, RETRY_AFTER_SECONDS)

    def is_down(self, dependency: str) -> bool:
        return dependency in self._down_since

    def down(self, dependency: str, error: BaseException | None = None) -> None:
        if dependency in self._down_since:
            return
        self._down_since[dependency] = time.monotonic()
        DEPENDENCY_UP.labels(dependency).set(0)
        cause = "" if error is None else f" ({type(error).__name__}: {_first_line(error)})"
        log.warning(
            "%s unavailable%s; requests that need it get 503 SERVICE_UNAVAILABLE",
            dependency,
            cause,
        )
        if dependency == DATABASE and self.database_probe is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to probe from
                self._probe = asyncio.get_running_loop().create_task(
                    self._watch_database(), name="database-probe"
                )

    def up(self, dependency: str) -> None:
        since = self._down_since.pop(dependency, None)
        DEPENDENCY_UP.labels(dependency).set(1)
        if since is not None:
            log.warning("%s available again after %.1f s", dependency, time.monotonic() - since)

    async def _watch_database(self) -> None:
        assert self.database_probe is not None
        while self.is_down(DATABASE):
            try:
                async with asyncio.timeout(PROBE_SECONDS):
                    await self.database_probe()
            except Exception:  # still down (or hung): look again in a second
                await asyncio.sleep(PROBE_SECONDS)
                continue
            self.up(DATABASE)

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""
