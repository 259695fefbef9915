"""A customer's master record changed in PostgreSQL: the history appended and the version
bumped in the writing transaction (domain/customers/history.py), partial updates
(domain/customers/updates.py), and the history read back, newest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.completeness import refresh_completeness
from api.db.document_crypto import DocumentCrypto
from api.db.identity import match_customers
from api.db.rows import customer_from_row
from api.db.tables import (
    BranchRow,
    CorporateContactRow,
    CustomerChangeRow,
    CustomerRow,
    IdentityDocumentRow,
)
from api.db.transaction import SqlTransaction
from domain.customers.documents import resident_id_birth_date
from domain.customers.history import Author, ChangeEntry, FieldChange, HistoryFilter, category_of
from domain.customers.model import Customer, CustomerKind, DocumentType
from domain.errors import NotFound
from domain.identity.merging import CustomerMerged

_changes = CustomerChangeRow.__table__.c
_contacts = CorporateContactRow.__table__.c
_customers = CustomerRow.__table__

# Profile path → column of `customers` (updates.FIELDS names the paths).
COLUMNS: Mapping[str, str] = {
    "displayName": "display_name",
    "homeBranch": "home_branch_id",
    "preferredChannel": "preferred_channel",
    "preferredLanguage": "preferred_language",
    "personal.gender": "gender",
    "personal.birthDate": "birth_date",
    "personal.occupation": "occupation",
    "personal.employer": "employer",
    "personal.incomeBand": "income_band",
    "personal.assetBand": "asset_band",
    "personal.creditStatus": "credit_status",
    "personal.creditStatusSource": "credit_status_source",
    "corporate.registeredName": "registered_name",
    "corporate.ownershipType": "ownership_type",
    "corporate.businessScale": "business_scale",
    "corporate.industry": "industry",
    "corporate.lifecycleStage": "lifecycle_stage",
    "corporate.assetStructure": "asset_structure",
    "corporate.liabilitySources": "liability_sources",
    "corporate.financingModes": "financing_modes",
    "corporate.creditRecord": "credit_record",
    "corporate.parent": "parent_id",
    "corporate.legalRepresentative": "legal_representative_id",
}


# Up a group's parents; the depth bound stops a cycle a bad import might have left.
_PARENTS = text(
    """
    WITH RECURSIVE up(id, depth) AS (
        SELECT parent_id, 1 FROM customers WHERE id = :cid AND parent_id IS NOT NULL
        UNION ALL
        SELECT c.parent_id, up.depth + 1 FROM customers c JOIN up ON c.id = up.id
        WHERE c.parent_id IS NOT NULL AND up.depth < 100
    )
    SELECT id FROM up
    """
)


def _column_value(value: object) -> object:
    return getattr(value, "value", value)  # enums by their value


# History paths of what the matcher compares (domain/identity/matching.py): a change of one
# matches the record against the base again before the commit.
_MATCHED = (
    "displayName",
    "corporate.registeredName",
    "personal.birthDate",
    "contactPoints.",
    "documents.",
)


class SqlMasterDataTransaction(SqlTransaction):
    """A transaction that changes master records: it appends their history and bumps their
    version, and matches new and changed records against the base (incremental identity
    resolution), before it commits."""

    def __init__(self, engine: AsyncEngine, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._rematch: set[int] = set()
        # Off for a file import's batches: the run matches what it wrote at its end
        # (api/db/identity.py `match_import_run`), set-based where it wrote much of the base.
        self.match_on_commit = True

    def rematch(self, customer_ids: Sequence[int]) -> None:
        """Match these records against the base before the commit."""
        self._rematch.update(customer_ids)

    async def commit(self) -> None:
        if self._rematch and self.match_on_commit:
            await match_customers(self.conn, sorted(self._rematch))
        await super().commit()

    async def record_changes(
        self,
        customer_id: int,
        changes: Sequence[FieldChange],
        author: Author,
        *,
        bump: bool = True,
    ) -> int:
        if changes:
            await self.conn.execute(
                insert(CustomerChangeRow),
                [
                    {
                        "customer_id": customer_id,
                        "field": change.field,
                        "category": category_of(change.field).value,
                        "old_value": change.old,
                        "new_value": change.new,
                        "subject_id": change.subject_id,
                        "actor": author.actor,
                        "source_system": author.source_system,
                        "correlation_id": author.correlation_id,
                        "reason": author.reason,
                    }
                    for change in changes
                ],
            )
        # The record's completeness moves with it, in the same transaction.
        await refresh_completeness(self.conn, [customer_id])
        if not bump or any(c.field.startswith(_MATCHED) for c in changes):
            self._rematch.add(customer_id)  # a new record, or one changed in a compared field
        if not bump:
            return 1  # a new record's first entry
        bumped = await self.conn.execute(
            update(CustomerRow)
            .where(CustomerRow.id == customer_id)
            .values(version=CustomerRow.version + 1, updated_at=func.now())
            .returning(CustomerRow.version)
        )
        version: int = bumped.scalar_one()
        return version

    async def customer_for_update(self, customer_id: int) -> Customer:
        """The record, locked until the commit: changes of one record run one after another."""
        row = (
            await self.conn.execute(
                select(_customers).where(_customers.c.id == customer_id).with_for_update()
            )
        ).first()
        if row is None or row.erased_at is not None:
            raise NotFound("customer", str(customer_id))
        if row.merged_into_id is not None:
            raise CustomerMerged(customer_id, row.merged_into_id)
        return customer_from_row(row)


class SqlUpdateUnitOfWork(SqlMasterDataTransaction):
    """Changes of the record itself: its fields (updateCustomer) and its corporate contacts."""

    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._crypto = crypto

    async def resident_birth_date(self, customer_id: int) -> date | None:
        d = IdentityDocumentRow.__table__.c
        row = (
            await self.conn.execute(
                select(d.number_ciphertext, d.number_key_id).where(
                    d.customer_id == customer_id, d.type == DocumentType.RESIDENT_ID.value
                )
            )
        ).first()
        if row is None:
            return None
        number = self._crypto.open(
            DocumentType.RESIDENT_ID.value, row.number_key_id, row.number_ciphertext, customer_id
        )
        return resident_id_birth_date(number)

    async def branch_exists(self, branch_id: int) -> bool:
        return (
            await self.conn.scalar(
                select(BranchRow.id).where(
                    BranchRow.id == branch_id, BranchRow.retired_at.is_(None)
                )
            )
        ) is not None

    async def kind_of(self, customer_id: int) -> CustomerKind | None:
        found = await self.conn.scalar(
            select(CustomerRow.kind).where(
                CustomerRow.id == customer_id, CustomerRow.erased_at.is_(None)
            )
        )
        return None if found is None else CustomerKind(found)

    async def parents_of(self, customer_id: int) -> list[int]:
        rows = await self.conn.execute(_PARENTS, {"cid": customer_id})
        return [r.id for r in rows]

    async def has_corporate_contact(self, corporate_id: int, person_id: int, role: str) -> bool:
        found = await self.conn.scalar(
            select(_contacts.role).where(
                _contacts.corporate_id == corporate_id,
                _contacts.person_id == person_id,
                _contacts.role == role,
            )
        )
        return found is not None

    async def add_corporate_contact(self, corporate_id: int, person_id: int, role: str) -> None:
        await self.conn.execute(
            insert(CorporateContactRow).values(
                corporate_id=corporate_id, person_id=person_id, role=role
            )
        )

    async def remove_corporate_contact(self, corporate_id: int, person_id: int, role: str) -> None:
        await self.conn.execute(
            delete(CorporateContactRow).where(
                _contacts.corporate_id == corporate_id,
                _contacts.person_id == person_id,
                _contacts.role == role,
            )
        )

    async def save_fields(self, customer_id: int, values: Mapping[str, object]) -> None:
        columns = {COLUMNS[path]: _column_value(value) for path, value in values.items()}
        await self.conn.execute(
            update(CustomerRow).where(CustomerRow.id == customer_id).values(columns)
        )


def _entry(row: Any) -> ChangeEntry:
    return ChangeEntry(
        id=row.id,
        customer_id=row.customer_id,
        field=row.field,
        old=row.old_value,
        new=row.new_value,
        subject_id=row.subject_id,
        actor=row.actor,
        source_system=row.source_system,
        correlation_id=row.correlation_id,
        reason=row.reason,
        changed_at=row.changed_at,
    )


class SqlCustomerHistory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def changes(
        self, customer_id: int, where: HistoryFilter, before_id: int | None, limit: int
    ) -> list[ChangeEntry]:
        """Newest first, `limit` entries older than `before_id`."""
        conditions: list[ColumnElement[bool]] = [_changes.customer_id == customer_id]
        if where.fields:
            conditions.append(
                or_(
                    *(
                        or_(_changes.field == name, _changes.field.startswith(f"{name}."))
                        for name in where.fields
                    )
                )
            )
        if where.since is not None:
            conditions.append(_changes.changed_at >= where.since)
        if where.until is not None:
            conditions.append(_changes.changed_at < where.until)
        if before_id is not None:
            conditions.append(_changes.id < before_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(CustomerChangeRow.__table__)
                .where(and_(*conditions))
                .order_by(_changes.id.desc())
                .limit(limit)
            )
            return [_entry(r) for r in rows]
