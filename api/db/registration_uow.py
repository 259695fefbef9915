"""Registering a customer in PostgreSQL: the customer row, its sealed documents, contact points
and source key, and its event, in one transaction (domain/customers/registration.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.document_crypto import DocumentCrypto
from api.db.tables import (
    BranchRow,
    ContactPointRow,
    CustomerRow,
    CustomerSourceKeyRow,
    IdentityDocumentRow,
)
from domain.customers.model import CustomerKind
from domain.customers.registration import DuplicateDocument, NewCustomer, NewDocument
from domain.customers.source_keys import SourceKey, SourceKeyTaken

_keys = CustomerSourceKeyRow.__table__.c
_documents = IdentityDocumentRow.__table__.c
# The next customer id, taken before the row is written: the code and the documents' sealing
# (bound to the customer) both need it.
_NEXT_ID = text("SELECT nextval(pg_get_serial_sequence('customers', 'id'))")


class SqlRegistrationUnitOfWork(SqlMasterDataTransaction):
    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._crypto = crypto

    async def customer_of(self, key: SourceKey) -> int | None:
        found: int | None = await self.conn.scalar(
            select(_keys.customer_id)
            .where(_keys.system == key.system, _keys.key == key.key)
            .with_for_update(read=True)
        )
        return found

    async def branch_exists(self, branch_id: int) -> bool:
        found = await self.conn.scalar(
            select(BranchRow.id).where(BranchRow.id == branch_id, BranchRow.retired_at.is_(None))
        )
        return found is not None

    async def document_holders(self, documents: Sequence[NewDocument]) -> dict[int, int]:
        holders = {}
        for position, document in enumerate(documents):
            lookups = self._crypto.lookup_hashes(document.type.value, document.number)
            holder = await self.conn.scalar(
                select(_documents.customer_id).where(
                    _documents.type == document.type.value, _documents.number_hmac.in_(lookups)
                )
            )
            if holder is not None:
                holders[position] = holder
        return holders

    async def add_customer(self, customer: NewCustomer, actor: str) -> int:
        customer_id: int = await self.conn.scalar(_NEXT_ID)
        prefix = "P" if customer.kind is CustomerKind.PERSONAL else "C"
        p, c = customer.personal, customer.corporate
        await self.conn.execute(
            insert(CustomerRow).values(
                id=customer_id,
                code=f"{prefix}{customer_id:09d}",
                kind=customer.kind.value,
                display_name=customer.display_name,
                home_branch_id=customer.home_branch_id,
                preferred_channel=None
                if customer.preferred_channel is None
                else customer.preferred_channel.value,
                preferred_language=customer.preferred_language,
                gender=None if p is None or p.gender is None else p.gender.value,
                birth_date=None if p is None else p.birth_date,
                occupation=None if p is None else p.occupation,
                employer=None if p is None else p.employer,
                income_band=None if p is None or p.income_band is None else p.income_band.value,
                asset_band=None if p is None or p.asset_band is None else p.asset_band.value,
                credit_status="unknown" if p is not None else None,
                ownership_type=None
                if c is None or c.ownership_type is None
                else c.ownership_type.value,
                business_scale=None
                if c is None or c.business_scale is None
                else c.business_scale.value,
                industry=None if c is None else c.industry,
                registered_name=None if c is None else c.registered_name,
                lifecycle_status="prospect" if customer.prospect else "active",
            )
        )
        for document in customer.documents:
            sealed = self._crypto.seal(document.type.value, document.number, customer_id)
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(
                        insert(IdentityDocumentRow).values(
                            customer_id=customer_id,
                            type=document.type.value,
                            number_ciphertext=sealed.ciphertext,
                            number_key_id=sealed.key_id,
                            number_hmac=sealed.lookup,
                            issuing_country=document.issuing_country,
                        )
                    )
            except IntegrityError as exc:  # registered at the same moment by someone else
                holder = await self.conn.scalar(
                    select(_documents.customer_id).where(_documents.number_hmac == sealed.lookup)
                )
                raise DuplicateDocument("input.documents", holder or 0) from exc
        if customer.contact_points:
            await self.conn.execute(
                insert(ContactPointRow),
                [
                    {
                        "customer_id": customer_id,
                        "kind": point.kind.value,
                        "value": point.value,
                        "label": point.label,
                        "is_preferred": point.preferred,
                    }
                    for point in customer.contact_points
                ],
            )
        if customer.source_key is not None:
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(
                        insert(CustomerSourceKeyRow).values(
                            customer_id=customer_id,
                            system=customer.source_key.system,
                            key=customer.source_key.key,
                            created_by=actor,
                        )
                    )
            except IntegrityError as exc:  # the same key registered at the same moment
                raise SourceKeyTaken("the source key was registered meanwhile; retry") from exc
        return customer_id
