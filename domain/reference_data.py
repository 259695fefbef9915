"""Reference data kept by the systems that own it: branches, products with their variants,
and staff (relationship managers), upserted by those systems' keys and retired, never
deleted, while anything still refers to them.

The checks here are the one implementation: the upsert mutations and the bulk import call
them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Protocol

from domain.customers.registration import clean_text
from domain.customers.source_keys import SourceKey
from domain.errors import DomainError, InvalidInput, RuleViolation
from domain.organisation import Branch, BranchKind, RelationshipManager
from domain.products import Product, ProductAudience, ProductCategory
from domain.transaction import Transaction

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_TERM_MONTHS = 600  # fifty years: the longest mortgage a bank writes
MAX_RATE = Decimal(100)  # percent a year


class ReferenceKind(enum.StrEnum):
    BRANCH = "branch"
    PRODUCT = "product"
    STAFF = "staff"


class KeyHeldElsewhere(RuleViolation):
    """The record matched by code is keyed by another key of the same system."""

    code = "SOURCE_KEY_TAKEN"


class NotKeyedByCaller(DomainError):
    """An integration changes only records its own system keys."""

    code = "FORBIDDEN"


def _code(value: str, field: str) -> str:
    code = value.strip().upper()
    if not _CODE.fullmatch(code):
        raise InvalidInput(field, "1–20 letters, digits, _ or -, starting with a letter or digit")
    return code


def _currency(value: str, field: str) -> str:
    currency = value.strip().upper()
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(field, "an ISO 4217 currency code")
    return currency


def _name(value: str, field: str, limit: int) -> str:
    return clean_text(value, field, limit, required=True) or ""


@dataclass(frozen=True, slots=True)
class BranchDraft:
    code: str
    name: str
    city: str
    kind: BranchKind
    parent_code: str | None = None

    def validated(self) -> BranchDraft:
        parent = None if self.parent_code is None else _code(self.parent_code, "input.parentCode")
        if self.kind is BranchKind.HEAD_OFFICE and parent is not None:
            raise InvalidInput("input.parentCode", "the head office has no parent")
        if self.kind is not BranchKind.HEAD_OFFICE and parent is None:
            raise InvalidInput("input.parentCode", "a branch belongs to a parent")
        return replace(
            self,
            code=_code(self.code, "input.code"),
            name=_name(self.name, "input.name", 100),
            city=_name(self.city, "input.city", 50),
            parent_code=parent,
        )


@dataclass(frozen=True, slots=True)
class ProductDraft:
    code: str
    name: str
    category: ProductCategory
    audience: ProductAudience
    currency: str = "CNY"

    def validated(self) -> ProductDraft:
        return replace(
            self,
            code=_code(self.code, "input.code"),
            name=_name(self.name, "input.name", 100),
            currency=_currency(self.currency, "input.currency"),
        )


@dataclass(frozen=True, slots=True)
class StaffDraft:
    employee_no: str
    name: str
    grade: int
    branch_code: str
    active: bool = True

    def validated(self) -> StaffDraft:
        if not 1 <= self.grade <= 4:
            raise InvalidInput("input.grade", "a grade from 1 (junior) to 4 (principal)")
        return replace(
            self,
            employee_no=_code(self.employee_no, "input.employeeNo"),
            name=_name(self.name, "input.name", 100),
            branch_code=_code(self.branch_code, "input.branchCode"),
        )


@dataclass(frozen=True, slots=True)
class ProductVariant:
    """One variant of a product with its own terms (每一种的期限、条件和利率各有差别)."""

    id: int
    product_id: int
    code: str
    name: str
    term_months: int | None
    interest_rate: Decimal | None  # percent a year
    currency: str
    fee: Decimal | None
    fee_note: str | None
    effective_from: date
    effective_to: date | None

    def effective_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


@dataclass(frozen=True, slots=True)
class VariantDraft:
    product_code: str
    code: str
    name: str
    effective_from: date
    term_months: int | None = None
    interest_rate: Decimal | None = None
    currency: str = "CNY"
    fee: Decimal | None = None
    fee_note: str | None = None
    effective_to: date | None = None

    def validated(self) -> VariantDraft:
        if self.term_months is not None and not 1 <= self.term_months <= MAX_TERM_MONTHS:
            raise InvalidInput("input.termMonths", f"1 to {MAX_TERM_MONTHS} months")
        rate = self.interest_rate
        if rate is not None and (
            not rate.is_finite()
            or not Decimal(0) <= rate <= MAX_RATE
            or rate.as_tuple().exponent < -4  # type: ignore[operator]
        ):
            raise InvalidInput("input.interestRate", "0–100 percent a year, at most 4 decimals")
        fee = self.fee
        if fee is not None and (
            not fee.is_finite() or fee < 0 or fee.as_tuple().exponent < -2  # type: ignore[operator]
        ):
            raise InvalidInput("input.fee", "an amount of 0 or more, at most 2 decimals")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise InvalidInput("input.effectiveTo", "a variant ends after it begins")
        return replace(
            self,
            product_code=_code(self.product_code, "input.productCode"),
            code=_code(self.code, "input.code"),
            name=_name(self.name, "input.name", 100),
            currency=_currency(self.currency, "input.currency"),
            fee_note=clean_text(self.fee_note, "input.feeNote", 200),
        )


@dataclass(frozen=True, slots=True)
class Upserted:
    id: int
    created: bool


class ReferenceUnitOfWork(Transaction, Protocol):
    async def keyed(self, kind: ReferenceKind, key: SourceKey) -> int | None:
        """The record the key names."""
        ...

    async def by_code(self, kind: ReferenceKind, code: str) -> int | None:
        """The record with this code (a branch's or product's code, an employee number)."""
        ...

    async def key_of(self, kind: ReferenceKind, record_id: int, system: str) -> str | None:
        """The record's key in the system, if it has one."""
        ...

    async def link(self, kind: ReferenceKind, key: SourceKey, record_id: int) -> None: ...

    async def save_branch(
        self, record_id: int | None, draft: BranchDraft, parent: int | None
    ) -> int: ...

    async def save_product(self, record_id: int | None, draft: ProductDraft) -> int: ...

    async def save_staff(self, record_id: int | None, draft: StaffDraft, branch: int) -> int: ...

    async def save_variant(
        self, product_id: int, draft: VariantDraft
    ) -> tuple[ProductVariant, bool]:
        """The variant as kept, and whether it was new."""
        ...

    async def retire(self, kind: ReferenceKind, record_id: int) -> bool:
        """Mark the record retired (now); False when it was already."""
        ...


Save = Callable[[ReferenceUnitOfWork, int | None], Awaitable[int]]


async def _upsert(
    uow: ReferenceUnitOfWork, kind: ReferenceKind, key: SourceKey, code: str, save: Save
) -> Upserted:
    """The record the key names is changed; else the one with this code is adopted (keyed from
    now on); else a new one is written. A code already taken by another record is refused."""
    record = await uow.keyed(kind, key)
    holder = await uow.by_code(kind, code)
    if record is None:
        if holder is not None:
            other = await uow.key_of(kind, holder, key.system)
            if other is not None and other != key.key:
                raise KeyHeldElsewhere(f"{code} is {key.system} {other}, not {key.key}")
        record = holder
    elif holder is not None and holder != record:
        raise InvalidInput("input.code", f"another {kind.value} has the code {code}")
    created = record is None
    saved = await save(uow, record)
    if await uow.keyed(kind, key) is None:
        await uow.link(kind, key, saved)
    return Upserted(saved, created)


async def upsert_branch(
    uow_factory: Callable[[], ReferenceUnitOfWork], key: SourceKey, draft: BranchDraft
) -> Upserted:
    branch = draft.validated()
    async with uow_factory() as uow:
        parent = None
        if branch.parent_code is not None:
            parent = await uow.by_code(ReferenceKind.BRANCH, branch.parent_code)
            if parent is None:
                raise InvalidInput("input.parentCode", "no branch has this code")

        async def save(u: ReferenceUnitOfWork, record: int | None) -> int:
            if record is not None and record == parent:
                raise InvalidInput("input.parentCode", "a branch is not its own parent")
            return await u.save_branch(record, branch, parent)

        done = await _upsert(uow, ReferenceKind.BRANCH, key, branch.code, save)
        await uow.commit()
    return done


async def upsert_product(
    uow_factory: Callable[[], ReferenceUnitOfWork], key: SourceKey, draft: ProductDraft
) -> Upserted:
    product = draft.validated()
    async with uow_factory() as uow:

        async def save(u: ReferenceUnitOfWork, record: int | None) -> int:
            return await u.save_product(record, product)

        done = await _upsert(uow, ReferenceKind.PRODUCT, key, product.code, save)
        await uow.commit()
    return done


async def upsert_staff(
    uow_factory: Callable[[], ReferenceUnitOfWork], key: SourceKey, draft: StaffDraft
) -> Upserted:
    staff = draft.validated()
    async with uow_factory() as uow:
        branch = await uow.by_code(ReferenceKind.BRANCH, staff.branch_code)
        if branch is None:
            raise InvalidInput("input.branchCode", "no branch has this code")

        async def save(u: ReferenceUnitOfWork, record: int | None) -> int:
            return await u.save_staff(record, staff, branch)

        done = await _upsert(uow, ReferenceKind.STAFF, key, staff.employee_no, save)
        await uow.commit()
    return done


async def _owned(
    uow: ReferenceUnitOfWork, kind: ReferenceKind, record: int, system: str | None
) -> None:
    """`system` (an integration's) must key the record; None: an admin, who may change any."""
    if system is not None and await uow.key_of(kind, record, system) is None:
        raise NotKeyedByCaller(f"this {kind.value} is not keyed by {system}")


async def upsert_variant(
    uow_factory: Callable[[], ReferenceUnitOfWork], draft: VariantDraft, system: str | None
) -> tuple[ProductVariant, bool]:
    """A product's variant, keyed by its code within the product; whether it was new.
    `system`: the integration's, which must key the product."""
    variant = draft.validated()
    async with uow_factory() as uow:
        product = await uow.by_code(ReferenceKind.PRODUCT, variant.product_code)
        if product is None:
            raise InvalidInput("input.productCode", "no product has this code")
        await _owned(uow, ReferenceKind.PRODUCT, product, system)
        done = await uow.save_variant(product, variant)
        await uow.commit()
    return done


async def retire(
    uow_factory: Callable[[], ReferenceUnitOfWork],
    kind: ReferenceKind,
    code: str,
    system: str | None,
) -> bool:
    """Retire a branch or product: kept for everything that refers to it, offered no more.
    `system`: the integration's, which must key the record."""
    found_code = _code(code, "code")
    async with uow_factory() as uow:
        record = await uow.by_code(kind, found_code)
        if record is None:
            raise InvalidInput("code", f"no {kind.value} has this code")
        await _owned(uow, kind, record, system)
        changed = await uow.retire(kind, record)
        await uow.commit()
    return changed


@dataclass(frozen=True, slots=True)
class ReferenceQuery:
    """A list of reference data: a text in the code or name, retired records or not."""

    search: str | None = None
    include_retired: bool = False  # staff: inactive ones
    category: ProductCategory | None = None  # products
    branch_id: int | None = None  # staff of one branch
    code: str | None = None  # exactly this code (a token's branch)

    def validated(self) -> ReferenceQuery:
        search = clean_text(self.search, "search", 100)
        return replace(self, search=search)


class ReferenceReader(Protocol):
    async def branches(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[Branch]: ...

    async def products(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[Product]: ...

    async def staff(
        self, query: ReferenceQuery, after: int | None, limit: int
    ) -> Sequence[RelationshipManager]: ...

    async def variants_by_product(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[ProductVariant]]: ...
