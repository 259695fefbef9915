"""Read replicas: read-only operations served by streaming replicas, with read-your-writes.

**Routing.** `DATABASE_REPLICA_URLS` names streaming replicas of the primary. The readers of
profiles, searches, lists and reports (api/bootstrap.py) connect through a `RoutedEngine`: a
connection opened inside a read-only operation (`ReadYourWrites.reading`, around every GraphQL
query and the registered-profile lane) may go to a replica; everything else goes to the
primary — mutations and the reads inside them, transactions (`begin()`), the read audit, the
worker and the commands. Without an operation's say-so, the primary.

**Read-your-writes: the LSN of the caller's last write.** After a mutation, every transaction of
it committed, the primary's WAL position (`pg_current_wal_lsn()`, one statement) becomes the
caller's fence: kept in Redis under the caller (`qj:written:{caller}`, only ever raised, for
FENCE_TTL_SECONDS) and in this process. A read may go to a replica only when that replica's
replay position has reached the caller's fence; otherwise it goes to the primary. So after a
client's write, its next read — on any process — sees that write, however far the replica
lags. When the fence cannot be read (Redis down), the caller's reads go to the primary.

Why not the per-customer change counters: they say nothing about a search or a list (a
customer just registered must be found), and comparing them needs the read already made. The
LSN covers every read with one comparison, made before the read.

**Health.** Every POLL_SECONDS the primary's WAL position and each replica's replay position
are read. A replica that does not answer, is no longer in recovery (promoted), or shows the
primary's state from longer ago than QUANJING_REPLICA_MAX_LAG_SECONDS is skipped until it
catches up (metrics: `quanjing_replica_lag_seconds`, `quanjing_replica_up`,
`quanjing_replica_routing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.engine import autocommit
from api.metrics import REPLICA_LAG, REPLICA_ROUTING, REPLICA_UP
from domain.ports import READ_FENCE

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
HEALTH_COMPONENT = "replica-health"  # the polls' statements, told apart from requests'
POLL_TIMEOUT_SECONDS = 1.0

_PRIMARY_LSN = text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery() AS recovering,"
    " pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replayed"
)


@dataclass(slots=True)
class Replica:
    name: str  # "replica-0", …: a metric label, never the URL (it may carry a password)
    engine: AsyncEngine
    replayed: int = -1  # replay position at the last poll; -1: not answering
    lag_seconds: float = float("inf")


@dataclass(slots=True)
class _History:
    """The primary's WAL position over the last few seconds, to date a replica's state: it
    lags by the time since the primary first wrote past its replay position."""

    window_seconds: float
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, now: float, lsn: int) -> None:
        self.samples.append((now, lsn))
        while self.samples and self.samples[0][0] < now - self.window_seconds:
            self.samples.popleft()

    def lag(self, now: float, replayed: int) -> float:
        for moment, lsn in self.samples:
            if lsn > replayed:
                return now - moment
        return 0.0 if self.samples else float("inf")


class Replicas:
    """The primary, its replicas and their health; `choose` picks where a read goes."""

    def __init__(
        self, primary: AsyncEngine, replicas: list[AsyncEngine], max_lag_seconds: float
    ) -> None:
        self.primary = primary
        self.replicas = [Replica(f"replica-{n}", engine) for n, engine in enumerate(replicas)]
        self.max_lag_seconds = max_lag_seconds
        self._history = _History(window_seconds=max_lag_seconds * 2 + 1)
        self._turn = itertools.count()

    def choose(self, fence: int | None) -> AsyncEngine:
        if fence is None:
            REPLICA_ROUTING.labels("primary_not_read_only").inc()
            return self.primary
        usable = [
            r for r in self.replicas if r.replayed >= 0 and r.lag_seconds <= self.max_lag_seconds
        ]
        if not usable:
            REPLICA_ROUTING.labels("primary_no_replica").inc()
            return self.primary
        current = [r for r in usable if r.replayed >= fence]
        if not current:
            REPLICA_ROUTING.labels("primary_behind_caller").inc()
            return self.primary
        REPLICA_ROUTING.labels("replica").inc()
        return current[next(self._turn) % len(current)].engine

    @functools.cached_property
    def _lsn_reader(self) -> AsyncEngine:
        # One statement, no BEGIN and ROLLBACK around it: it counts against every write.
        return autocommit(self.primary)

    @functools.cached_property
    def _health_reader(self) -> AsyncEngine:
        return self._lsn_reader.execution_options(component=HEALTH_COMPONENT)

    async def primary_lsn(self) -> int:
        return await self._lsn(self._lsn_reader)

    @staticmethod
    async def _lsn(engine: AsyncEngine) -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(_PRIMARY_LSN)).scalar_one())

    async def poll(self) -> None:
        """One health check: the primary's position, then each replica's."""
        try:
            lsn = await asyncio.wait_for(self._lsn(self._health_reader), POLL_TIMEOUT_SECONDS)
        except (TimeoutError, SQLAlchemyError, OSError):
            return  # the primary's own outage is the outage probe's business
        self._history.add(time.monotonic(), lsn)
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))

    async def _check(self, replica: Replica) -> None:
        try:
            row = await asyncio.wait_for(
                self._state(autocommit(replica.engine)), POLL_TIMEOUT_SECONDS
            )
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            if replica.replayed >= 0:
                log.warning("%s stopped answering; reads skip it: %s", replica.name, exc)
            replica.replayed, replica.lag_seconds = -1, float("inf")
        else:
            recovering, replayed = row
            if not recovering:  # promoted: it no longer follows this primary
                replica.replayed, replica.lag_seconds = -1, float("inf")
            else:
                replica.replayed = int(replayed or 0)
                replica.lag_seconds = self._history.lag(time.monotonic(), replica.replayed)
        REPLICA_UP.labels(replica.name).set(1 if replica.replayed >= 0 else 0)
        if replica.lag_seconds != float("inf"):
            REPLICA_LAG.labels(replica.name).set(replica.lag_seconds)

    @staticmethod
    async def _state(engine: AsyncEngine) -> tuple[bool, int | None]:
        async with engine.connect() as conn:
            row = (await conn.execute(_REPLICA_STATE)).one()
            return bool(row.recovering), row.replayed

    async def watch(self) -> None:
        """Poll until cancelled (a task of the process's lifespan)."""
        while True:
            await self.poll()
            await asyncio.sleep(POLL_SECONDS)

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()


class RoutedEngine(AsyncEngine):
    """The primary's engine, except that `connect()` inside a read-only operation goes where
    `Replicas.choose` says. `begin()` — a transaction — is always the primary's."""

    def __init__(self, replicas: Replicas, options: dict[str, Any] | None = None) -> None:
        # Not `super().__init__`: that would make this object the primary engine's registered
        # proxy, which SQLAlchemy hands back from `connection.engine`.
        self.sync_engine = replicas.primary.sync_engine
        self._replicas = replicas
        self._options = options or {}
        # Each target with these options (a reader's AUTOCOMMIT, say), made once.
        self._targets: dict[int, AsyncEngine] = {}

    def execution_options(self, **options: Any) -> RoutedEngine:
        return RoutedEngine(self._replicas, {**self._options, **options})

    def connect(self) -> AsyncConnection:
        target = self._replicas.choose(READ_FENCE.get())
        if not self._options:
            return target.connect()
        optioned = self._targets.get(id(target))
        if optioned is None:
            optioned = self._targets[id(target)] = target.execution_options(**self._options)
        return optioned.connect()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._replicas.primary.execution_options(**self._options).begin() as conn:
            yield conn
