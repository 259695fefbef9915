"""The transaction every unit of work is: one connection, the outbox written at commit, the
idempotency claim and response (api/db/*_uow.py extend it with their own statements)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import orjson
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.tables import IdempotencyKeyRow
from domain.recording import IdempotencyClaim, PriorRequest

_keys = IdempotencyKeyRow.__table__.c
_CLAIM = (
    pg_insert(IdempotencyKeyRow)
    .values(
        scope=bindparam("scope"),
        key=bindparam("key"),
        operation=bindparam("operation"),
        request_hash=bindparam("request_hash"),
        expires_at=bindparam("expires_at"),
    )
    # An expired key may be claimed afresh; a live one is left as it is. A concurrent first
    # attempt holds the row's index entry: this INSERT waits for it to finish.
    .on_conflict_do_update(
        index_elements=[_keys.scope, _keys.key],
        set_={
            "operation": bindparam("operation"),
            "request_hash": bindparam("request_hash"),
            "response": None,
            "created_at": bindparam("now"),
            "expires_at": bindparam("expires_at"),
        },
        where=_keys.expires_at < bindparam("now"),
    )
    .returning(_keys.scope)
)
_PRIOR = select(_keys.request_hash, _keys.response, _keys.operation).where(
    _keys.scope == bindparam("scope"), _keys.key == bindparam("key")
)
# What a write announces and the response its idempotency key replays are known before the
# commit and read by nobody inside the transaction: both go in one statement just before the
# COMMIT instead of a round trip each (events keep the order they were emitted in).
_FLUSH = text(
    """
    WITH events AS (
        INSERT INTO outbox (customer_id, topic, payload)
        SELECT e.customer_id, e.topic, CAST(e.payload AS jsonb)
        FROM unnest(CAST(:customer_ids AS bigint[]), CAST(:topics AS text[]),
                    CAST(:payloads AS text[])) WITH ORDINALITY AS e(customer_id, topic, payload, n)
        ORDER BY e.n
    ), response AS (
        UPDATE idempotency_keys SET response = CAST(:response AS jsonb)
        WHERE scope = :scope AND key = :key
    )
    SELECT 1
    """
)


class SqlTransaction:
    """One database transaction for a use case: what it emits goes to the outbox, and the
    idempotent response it stores, in the same commit; leaving without `commit()` rolls
    everything back. Each unit of work extends it with its own statements."""

    def __init__(self, engine: AsyncEngine, on_commit: Any = None) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._committed = False
        self._events: list[tuple[int, str, dict[str, Any]]] = []
        self._response: tuple[IdempotencyClaim, dict[str, Any]] | None = None
        self._on_commit = on_commit  # wakes the outbox relay so events leave at once

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if not self._committed:
                await self._conn.rollback()  # the default: nothing half-written stays
        finally:
            await self._conn.close()
            self._conn = None
        if self._committed and self._events and self._on_commit is not None:
            self._on_commit()

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "use the unit of work inside `async with`"
        return self._conn

    async def commit(self) -> None:
        if self._events or self._response is not None:
            claim, response = self._response or (None, None)
            await self.conn.execute(
                _FLUSH,
                {
                    "customer_ids": [c for c, _, _ in self._events],
                    "topics": [t for _, t, _ in self._events],
                    # Int keys become strings, as the JSON column type did.
                    "payloads": [
                        orjson.dumps(p, option=orjson.OPT_NON_STR_KEYS).decode()
                        for _, _, p in self._events
                    ],
                    "response": None if response is None else orjson.dumps(response).decode(),
                    "scope": None if claim is None else claim.scope,
                    "key": None if claim is None else claim.key,
                },
            )
        await self.conn.commit()
        self._committed = True

    async def claim_key(
        self, claim: IdempotencyClaim, operation: str, fingerprint: str
    ) -> PriorRequest | None:
        now = datetime.now(UTC)
        claimed = await self.conn.execute(
            _CLAIM,
            {
                "scope": claim.scope,
                "key": claim.key,
                "operation": operation,
                "request_hash": fingerprint,
                "expires_at": now + claim.ttl,
                "now": now,
            },
        )
        if claimed.first() is not None:
            return None
        row = (await self.conn.execute(_PRIOR, {"scope": claim.scope, "key": claim.key})).one()
        fingerprint_seen = row.request_hash if row.operation == operation else "other-operation"
        return PriorRequest(fingerprint=fingerprint_seen, response=row.response)

    async def store_response(self, claim: IdempotencyClaim, response: dict[str, Any]) -> None:
        self._response = (claim, response)  # written with the events at commit

    async def emit(self, customer_id: int, topic: str, payload: dict[str, Any]) -> None:
        self._events.append((customer_id, topic, payload))  # written at commit

    async def emit_many(self, events: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
        self._events.extend(events)
