"""Branches, products and staff from the systems that own them (the `branches`, `products` and
`staff` kinds): each record goes through the reference-data use case of its mutation
(`upsertBranch`, `upsertProduct`, `upsertRelationshipManager`), inside the batch's transaction
with a savepoint of its own, so a refused record leaves nothing and the batch goes on.

Reference data is small (hundreds of branches, thousands of staff): one use case per record
is the one implementation, and fast enough. A record equal to the one its key's last import
wrote is unchanged (a digest is kept with the key), as for customers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

import orjson

from domain.customers.source_keys import SourceKey
from domain.errors import DomainError, InvalidInput
from domain.imports.batches import BatchResult, ImportTransaction, RunContext, last_wins
from domain.imports.customers import check_text, parse_enum, parse_flag, required, source_key_of
from domain.imports.records import Outcome, Refusal, SourceRecord, refusal_of
from domain.organisation import BranchKind
from domain.products import ProductAudience, ProductCategory
from domain.reference_data import (
    BranchDraft,
    ProductDraft,
    ReferenceKind,
    ReferenceUnitOfWork,
    StaffDraft,
    Upserted,
    upsert_branch,
    upsert_product,
    upsert_staff,
)

_KEY_COLUMNS = {
    "sourceSystem": "the system that owns the record (default: --system)",
    "sourceKey": "the record's key in that system (required)",
}
BRANCH_COLUMNS: Mapping[str, str] = _KEY_COLUMNS | {
    "code": "the branch code quanjing shows and customers' homeBranchCode names (required)",
    "name": "name (required)",
    "city": "city (required)",
    "kind": "HEAD_OFFICE, BRANCH or SUB_BRANCH (required)",
    "parentCode": "the parent branch's code (every branch but the head office)",
}
PRODUCT_COLUMNS: Mapping[str, str] = _KEY_COLUMNS | {
    "code": "the product code holdings name (required)",
    "name": "name (required)",
    "category": "DEPOSIT, TIME_DEPOSIT, LOAN, CREDIT_CARD, … (the ProductCategory enum; required)",
    "audience": "PERSONAL, CORPORATE or ANY (required)",
    "currency": "ISO 4217 (default CNY)",
}
STAFF_COLUMNS: Mapping[str, str] = _KEY_COLUMNS | {
    "employeeNo": "the employee number (required)",
    "name": "name (required)",
    "grade": "1 (junior) to 4 (principal) (required)",
    "branchCode": "the branch they work at (required)",
    "active": "false for someone who left (default true)",
}


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    line: int
    key: SourceKey
    draft: BranchDraft | ProductDraft | StaffDraft
    fingerprint: bytes


class ReferenceImportTransaction(ImportTransaction, Protocol):
    async def reference_fingerprints(
        self, kind: ReferenceKind, keys: Sequence[SourceKey]
    ) -> dict[SourceKey, tuple[int, bytes | None]]:
        """The records these keys name already: (record id, the last import's digest)."""
        ...

    async def keep_reference_fingerprint(
        self, kind: ReferenceKind, key: SourceKey, fingerprint: bytes
    ) -> None: ...

    def savepoint(self) -> ReferenceUnitOfWork:
        """A unit of work nested in this transaction: committing it keeps its writes, leaving
        it otherwise undoes them, and the batch goes on either way."""
        ...


Upsert = Callable[[Callable[[], ReferenceUnitOfWork], SourceKey, Any], Awaitable[Upserted]]


def _grade(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise InvalidInput("grade", "a whole number from 1 to 4") from exc


def _draft(kind: ReferenceKind, record: SourceRecord) -> BranchDraft | ProductDraft | StaffDraft:
    match kind:
        case ReferenceKind.BRANCH:
            branch_kind = parse_enum(BranchKind, required(record, "kind"), "kind")
            assert branch_kind is not None
            return BranchDraft(
                code=required(record, "code"),
                name=required(record, "name"),
                city=required(record, "city"),
                kind=branch_kind,
                parent_code=record.get("parentCode"),
            )
        case ReferenceKind.PRODUCT:
            category = parse_enum(ProductCategory, required(record, "category"), "category")
            audience = parse_enum(ProductAudience, required(record, "audience"), "audience")
            assert category is not None
            assert audience is not None
            return ProductDraft(
                code=required(record, "code"),
                name=required(record, "name"),
                category=category,
                audience=audience,
                currency=(record.get("currency") or "CNY"),
            )
        case ReferenceKind.STAFF:
            active = record.get("active")
            return StaffDraft(
                employee_no=required(record, "employeeNo"),
                name=required(record, "name"),
                grade=_grade(required(record, "grade")),
                branch_code=required(record, "branchCode"),
                active=True if active is None else parse_flag(active, "active"),
            )
    raise AssertionError(kind)


class ReferenceImport:
    """One of the reference kinds, by the use case its mutation runs."""

    key_column = "sourceKey"

    def __init__(self, name: str, kind: ReferenceKind, upsert: Upsert) -> None:
        self.name = name
        self.reference = kind
        self.upsert = upsert

    def prepare(
        self, record: SourceRecord, default_system: str | None, today: date
    ) -> ReferenceRecord:
        check_text(record)
        key = source_key_of(record, default_system)
        draft = _draft(self.reference, record)
        try:
            draft = draft.validated()
        except InvalidInput as exc:
            raise InvalidInput(exc.field.removeprefix("input."), exc.message) from exc
        digest = hashlib.sha256(orjson.dumps({"draft": draft, "key": key})).digest()
        return ReferenceRecord(record.line, key, draft, digest)

    async def write(
        self, uow: ReferenceImportTransaction, items: Sequence[ReferenceRecord], run: RunContext
    ) -> BatchResult:
        result = BatchResult()
        records = last_wins(items, lambda r: r.key, lambda r: r.line, result)
        known = await uow.reference_fingerprints(self.reference, [r.key for r in records])
        for record in records:
            found = known.get(record.key)
            if found is not None and found[1] == record.fingerprint:
                result.mark(record.line, Outcome.UNCHANGED, found[0])
                continue
            try:
                done = await self.upsert(uow.savepoint, record.key, record.draft)
            except DomainError as exc:
                result.refuse(_unprefixed(refusal_of(exc, record.line, record.key.key)))
                continue
            await uow.keep_reference_fingerprint(self.reference, record.key, record.fingerprint)
            result.mark(record.line, Outcome.INSERTED if done.created else Outcome.UPDATED, done.id)
        return result


def _unprefixed(refusal: Refusal) -> Refusal:
    """The use cases name a mutation's input (`input.parentCode`); a file names the column."""
    return replace(refusal, field=(refusal.field or "").removeprefix("input.") or None)


BRANCHES = ReferenceImport("branches", ReferenceKind.BRANCH, upsert_branch)
PRODUCTS = ReferenceImport("products", ReferenceKind.PRODUCT, upsert_product)
STAFF = ReferenceImport("staff", ReferenceKind.STAFF, upsert_staff)
