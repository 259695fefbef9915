"""Reference records imported in PostgreSQL (domain/imports/reference.py): each record's use
case in a savepoint of the batch's transaction, and the digests kept with the keys."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from api.db.import_runs import SqlImportTransaction
from api.db.reference_uow import SqlReferenceUnitOfWork
from domain.customers.source_keys import SourceKey
from domain.reference_data import ReferenceKind, ReferenceUnitOfWork

_PRINTS = text(
    """
    SELECT s.n, k.record_id, k.fingerprint
    FROM unnest(CAST(:systems AS text[]), CAST(:keys AS text[])) WITH ORDINALITY AS s(system, key, n)
    JOIN reference_keys k ON k.kind = :kind AND k.system = s.system AND k.key = s.key
    """
)


class _Savepoint(SqlReferenceUnitOfWork):
    """The reference use case's unit of work, nested in the batch's transaction."""

    def __init__(self, outer: SqlReferenceImportTransaction) -> None:
        super().__init__(outer.engine)
        self._outer = outer
        self._nested: AsyncTransaction | None = None

    @property
    def conn(self) -> AsyncConnection:
        return self._outer.conn

    async def __aenter__(self) -> Self:
        self._nested = await self._outer.conn.begin_nested()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._nested is not None
        if self._nested.is_active:
            await self._nested.rollback()  # not committed: its writes are undone

    async def commit(self) -> None:
        assert self._nested is not None
        await self._nested.commit()  # RELEASE SAVEPOINT: kept with the batch

    async def emit(self, customer_id: int, topic: str, payload: dict[str, Any]) -> None:
        await self._outer.emit(customer_id, topic, payload)


class SqlReferenceImportTransaction(SqlImportTransaction):
    @property
    def engine(self) -> Any:
        return self._engine

    def savepoint(self) -> ReferenceUnitOfWork:
        return _Savepoint(self)

    async def reference_fingerprints(
        self, kind: ReferenceKind, keys: Sequence[SourceKey]
    ) -> dict[SourceKey, tuple[int, bytes | None]]:
        rows = await self.conn.execute(
            _PRINTS,
            {
                "kind": kind.value,
                "systems": [k.system for k in keys],
                "keys": [k.key for k in keys],
            },
        )
        return {keys[r.n - 1]: (r.record_id, r.fingerprint) for r in rows}

    async def keep_reference_fingerprint(
        self, kind: ReferenceKind, key: SourceKey, fingerprint: bytes
    ) -> None:
        await self.conn.execute(
            text(
                "UPDATE reference_keys SET fingerprint = :print "
                "WHERE kind = :kind AND system = :system AND key = :key"
            ),
            {"print": fingerprint, "kind": kind.value, "system": key.system, "key": key.key},
        )
