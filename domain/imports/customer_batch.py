"""Importing a batch of customers: which records are new, which change a customer already
imported, which are the same as last time, and which the rules refuse.

The decisions are made here, on sets: one read per question for the whole batch (which keys
are known, which documents are held and by whom, which branches exist), then the rules of
registration and of `updateCustomer` per record, then one write per table. A document held by
another customer is DUPLICATE_DOCUMENT, as at the counter; a customer whose document of a type
differs from the file's is DOCUMENT_CONFLICT (replacing an identity document is a steward's
decision, `replaceIdentityDocument`, never a side effect of a feed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from domain.customers.history import FieldChange
from domain.customers.model import ContactKind, Customer, DocumentType
from domain.customers.registration import NewContactPoint, NewCustomer, NewDocument
from domain.customers.source_keys import SourceKey
from domain.customers.updates import CustomerUpdate, current_value, validate_update
from domain.errors import InvalidInput
from domain.ids import encode_id
from domain.imports.batches import (
    BATCH_TOPIC,
    BatchResult,
    ImportTransaction,
    RunContext,
    last_wins,
)
from domain.imports.customers import CustomerRecord, column_of, customer_record
from domain.imports.records import Outcome, SourceRecord

_DOCUMENT_COLUMN = {
    DocumentType.RESIDENT_ID: "residentId",
    DocumentType.PASSPORT: "passport",
    DocumentType.UNIFIED_SOCIAL_CREDIT_CODE: "uscc",
}


@dataclass(frozen=True, slots=True)
class KnownCustomer:
    id: int
    fingerprint: bytes | None  # of the record imported last; None: registered otherwise
    erased: bool


@dataclass(frozen=True, slots=True)
class HeldContact:
    kind: ContactKind
    value: str
    preferred: bool


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A customer to insert, with its home branch resolved."""

    record: CustomerRecord
    branch_id: int | None


@dataclass(frozen=True, slots=True)
class RecordChange:
    """What an imported record changes on a customer already known."""

    customer_id: int
    key: SourceKey
    line: int
    fingerprint: bytes
    values: Mapping[str, object]  # path → new value (validate_update's answer)
    changes: tuple[FieldChange, ...]  # the fields' history entries
    documents: tuple[NewDocument, ...] = ()  # types the customer did not hold
    contacts: tuple[NewContactPoint, ...] = ()  # values the customer did not have

    @property
    def writes(self) -> bool:
        return bool(self.values or self.documents or self.contacts)


class CustomerImportTransaction(ImportTransaction, Protocol):
    async def branch_ids(self, codes: Sequence[str]) -> dict[str, int]:
        """The branches (not retired) with these codes: code → id."""
        ...

    async def known_customers(self, keys: Sequence[SourceKey]) -> dict[SourceKey, KnownCustomer]:
        """The customers these source keys name already."""
        ...

    async def document_holders(
        self, documents: Sequence[NewDocument]
    ) -> dict[tuple[DocumentType, str], int]:
        """Who holds each document already: (type, number) → customer id."""
        ...

    async def customers_for_update(self, ids: Sequence[int]) -> dict[int, Customer]:
        """The records, locked until the commit."""
        ...

    async def held_document_types(self, ids: Sequence[int]) -> dict[int, set[DocumentType]]: ...

    async def resident_birth_dates(self, ids: Sequence[int]) -> dict[int, date]:
        """The birth dates the customers' resident IDs on file encode."""
        ...

    async def held_contacts(self, ids: Sequence[int]) -> dict[int, list[HeldContact]]: ...

    async def insert_customers(self, records: Sequence[NewRecord], run: RunContext) -> list[int]:
        """Write the customers whole (row, documents, contact points, source key with its
        fingerprint, the registration's history entry); their ids, in order."""
        ...

    async def apply_changes(self, changes: Sequence[RecordChange], run: RunContext) -> None:
        """Write the changes (fields, new documents and contact points, history, version) and
        keep each record's new fingerprint."""
        ...

    async def keep_fingerprints(self, keys: Mapping[SourceKey, bytes]) -> None:
        """Records that changed nothing quanjing holds: only their fingerprint moves."""
        ...

    async def refresh_completeness(self, ids: Sequence[int]) -> None: ...


@dataclass(slots=True)
class _Batch:
    result: BatchResult
    branches: dict[str, int] = field(default_factory=dict)
    seen_documents: dict[tuple[DocumentType, str], int] = field(default_factory=dict)

    def refuse(self, record: CustomerRecord, column: str | None, code: str, message: str) -> None:
        self.result.reject(record.line, record.key.key, column, code, message)


class CustomerImport:
    """The `customers` kind: registration's rules for a new key, updateCustomer's for a known
    one; a record equal to the one imported last writes nothing."""

    name = "customers"
    key_column = "sourceKey"

    def prepare(
        self, record: SourceRecord, default_system: str | None, today: date
    ) -> CustomerRecord:
        return customer_record(record, default_system, today)

    async def write(
        self, uow: CustomerImportTransaction, items: Sequence[CustomerRecord], run: RunContext
    ) -> BatchResult:
        result = BatchResult()
        batch = _Batch(result)
        records = last_wins(items, lambda r: r.key, lambda r: r.line, result)
        codes = sorted({r.branch_code for r in records if r.branch_code is not None})
        batch.branches = await uow.branch_ids(codes) if codes else {}
        known = await uow.known_customers([r.key for r in records])
        fresh: list[CustomerRecord] = []
        for record in records:
            found = known.get(record.key)
            if found is not None and found.erased:
                batch.refuse(record, None, "CUSTOMER_ERASED", "the customer's data was erased")
            elif found is not None and found.fingerprint == record.fingerprint:
                result.mark(record.line, Outcome.UNCHANGED, found.id)
            elif record.branch_code is not None and record.branch_code not in batch.branches:
                batch.refuse(
                    record, "homeBranchCode", "UNKNOWN_BRANCH", "no such branch, or it is retired"
                )
            else:
                fresh.append(record)
        documents = [d for r in fresh for d in r.customer.documents]
        holders = await uow.document_holders(documents) if documents else {}
        new = [r for r in fresh if r.key not in known]
        existing = [r for r in fresh if r.key in known]
        inserts = [
            NewRecord(r, batch.branches.get(r.branch_code) if r.branch_code else None)
            for r in new
            if _documents_free(batch, r, holders, None)
        ]
        changes = await _changes(uow, batch, existing, known, holders, run.today)
        registered: list[int] = []
        if inserts:
            registered = await uow.insert_customers(inserts, run)
            for new_record, customer_id in zip(inserts, registered, strict=True):
                result.mark(new_record.record.line, Outcome.INSERTED, customer_id)
        writing = [c for c in changes if c.writes]
        if writing:
            await uow.apply_changes(writing, run)
        changed = [c.customer_id for c in writing]
        idle = {c.key: c.fingerprint for c in changes if not c.writes}
        if idle:
            await uow.keep_fingerprints(idle)
        for change in changes:
            outcome = Outcome.UPDATED if change.writes else Outcome.UNCHANGED
            result.mark(change.line, outcome, change.customer_id)
        touched = registered + changed
        if touched:
            await uow.refresh_completeness(touched)
            await uow.emit(
                0,
                BATCH_TOPIC,
                {
                    "runId": run.run_id,
                    "kind": self.name,
                    "registered": registered,
                    "changed": changed,
                },
            )
        return result


def _documents_free(
    batch: _Batch,
    record: CustomerRecord,
    holders: Mapping[tuple[DocumentType, str], int],
    own_id: int | None,
) -> bool:
    """No document of the record identifies another customer, in the base or earlier in
    this batch; refused (DUPLICATE_DOCUMENT naming the holder) otherwise."""
    for document in record.customer.documents:
        at = (document.type, document.number)
        holder = holders.get(at)
        if holder is not None and holder != own_id:
            batch.refuse(
                record,
                _DOCUMENT_COLUMN[document.type],
                "DUPLICATE_DOCUMENT",
                f"the document already identifies customer {encode_id('Customer', holder)}",
            )
            return False
        if at in batch.seen_documents:
            batch.refuse(
                record,
                _DOCUMENT_COLUMN[document.type],
                "DUPLICATE_DOCUMENT",
                f"line {batch.seen_documents[at]} of this file has the same document",
            )
            return False
    for document in record.customer.documents:
        batch.seen_documents[(document.type, document.number)] = record.line
    return True


async def _changes(
    uow: CustomerImportTransaction,
    batch: _Batch,
    records: Sequence[CustomerRecord],
    known: Mapping[SourceKey, KnownCustomer],
    holders: Mapping[tuple[DocumentType, str], int],
    today: date,
) -> list[RecordChange]:
    if not records:
        return []
    ids = [known[r.key].id for r in records]
    customers = await uow.customers_for_update(ids)
    held_types = await uow.held_document_types(ids)
    contacts = await uow.held_contacts(ids)
    births = await uow.resident_birth_dates(
        [known[r.key].id for r in records if _needs_resident_birth(r)]
    )
    out = []
    for record in records:
        customer_id = known[record.key].id
        customer = customers[customer_id]
        if customer.kind is not record.customer.kind:
            batch.refuse(record, "kind", "INVALID_INPUT", f"the customer is {customer.kind.value}")
            continue
        if not _documents_free(batch, record, holders, customer_id):
            continue
        documents = []
        conflict = None
        for document in record.customer.documents:
            if holders.get((document.type, document.number)) == customer_id:
                continue  # on file already
            if document.type in held_types.get(customer_id, set()):
                conflict = document
                break
            documents.append(document)
        if conflict is not None:
            batch.refuse(
                record,
                _DOCUMENT_COLUMN[conflict.type],
                "DOCUMENT_CONFLICT",
                "the customer holds another document of this type: a steward replaces it",
            )
            continue
        branch_id = batch.branches.get(record.branch_code) if record.branch_code else None
        update = CustomerUpdate(customer_id, record.update_values(branch_id))
        try:
            values = validate_update(update, customer, births.get(customer_id), today)
        except InvalidInput as exc:
            batch.refuse(record, column_of(exc.field), exc.code, exc.message)
            continue
        out.append(
            RecordChange(
                customer_id=customer_id,
                key=record.key,
                line=record.line,
                fingerprint=record.fingerprint,
                values=values,
                changes=tuple(
                    FieldChange.of(path, current_value(customer, path), value)
                    for path, value in values.items()
                ),
                documents=tuple(documents),
                contacts=_new_contacts(record.customer, contacts.get(customer_id, [])),
            )
        )
    return out


def _needs_resident_birth(record: CustomerRecord) -> bool:
    """The record gives a birth date without a resident ID to check it by."""
    c: NewCustomer = record.customer
    return (
        c.personal is not None
        and c.personal.birth_date is not None
        and all(d.type is not DocumentType.RESIDENT_ID for d in c.documents)
    )


def _new_contacts(
    customer: NewCustomer, held: Sequence[HeldContact]
) -> tuple[NewContactPoint, ...]:
    """The record's contact points the customer does not have; preferred only where the
    customer has no preferred one of that kind (the customer's own choice stands)."""
    values = {(h.kind, h.value) for h in held}
    preferred = {h.kind for h in held if h.preferred}
    return tuple(
        NewContactPoint(p.kind, p.value, p.label, p.preferred and p.kind not in preferred)
        for p in customer.contact_points
        if (p.kind, p.value) not in values
    )
