"""A customer's identity documents changed in PostgreSQL: numbers sealed to their customer,
looked up by their keyed hash (domain/customers/document_changes.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.document_crypto import DocumentCrypto
from api.db.rows import document_from_row
from api.db.tables import IdentityDocumentRow
from domain.customers.model import DocumentType, IdentityDocument
from domain.customers.registration import DuplicateDocument

_documents = IdentityDocumentRow.__table__.c


class SqlDocumentUnitOfWork(SqlMasterDataTransaction):
    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._crypto = crypto

    async def documents_of(self, customer_id: int) -> list[IdentityDocument]:
        rows = await self.conn.execute(
            select(IdentityDocumentRow.__table__)
            .where(_documents.customer_id == customer_id)
            .order_by(_documents.id)
        )
        return [document_from_row(r, self._crypto) for r in rows]

    async def holder_of(self, type: DocumentType, number: str) -> int | None:
        lookups = self._crypto.lookup_hashes(type.value, number)
        holder: int | None = await self.conn.scalar(
            select(_documents.customer_id).where(
                _documents.type == type.value, _documents.number_hmac.in_(lookups)
            )
        )
        return holder

    def _sealed(self, document: IdentityDocument) -> dict[str, object]:
        sealed = self._crypto.seal(document.type.value, document.number, document.customer_id)
        return {
            "number_ciphertext": sealed.ciphertext,
            "number_key_id": sealed.key_id,
            "number_hmac": sealed.lookup,
            "issuing_country": document.issuing_country,
            "expires_on": document.expires_on,
        }

    async def add_document(self, customer_id: int, document: IdentityDocument) -> int:
        try:
            async with self.conn.begin_nested():
                new_id: int = await self.conn.scalar(
                    insert(IdentityDocumentRow)
                    .values(
                        customer_id=customer_id, type=document.type.value, **self._sealed(document)
                    )
                    .returning(_documents.id)
                )
        except IntegrityError as exc:  # the same document added for someone at this moment
            raise DuplicateDocument("input.number", 0) from exc
        return new_id

    async def save_document(self, document: IdentityDocument) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    update(IdentityDocumentRow)
                    .where(_documents.id == document.id)
                    .values(self._sealed(document))
                )
        except IntegrityError as exc:
            raise DuplicateDocument("input.number", 0) from exc
