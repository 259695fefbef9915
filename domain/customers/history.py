"""The change history of a customer's master record (跟踪客户信息的变更): every changed field
with its old and new value, who changed it and why.

A field is named by its path in the GraphQL profile (`displayName`, `personal.occupation`,
`contactPoints.value`), so that the same field policy that masks the field masks its history
(`history_policy`). Values are kept as text; document numbers only ever masked, since the
numbers themselves stay sealed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from domain.access.policy import FIELD_POLICIES, FieldPolicy
from domain.privacy.erasure import DataCategory
from domain.transaction import Transaction

# The first segment of a path → the GraphQL type that declares the rest of it.
_PART_TYPES = {
    "personal": "PersonalDetails",
    "corporate": "CorporateDetails",
    "contactPoints": "ContactPoint",
    "documents": "IdentityDocument",
}
_PART_CATEGORIES = {
    "contactPoints": DataCategory.CONTACT_POINTS,
    "documents": DataCategory.DOCUMENTS,
}


def history_policy(path: str) -> tuple[str, str]:
    """The (type, field) whose policy shows a history entry of `path`."""
    head, _, rest = path.partition(".")
    if rest and head in _PART_TYPES:
        return _PART_TYPES[head], rest
    return "Customer", path


def category_of(path: str) -> DataCategory:
    """The erasure category whose erasure clears this field's history values."""
    return _PART_CATEGORIES.get(path.partition(".")[0], DataCategory.PROFILE)


def as_text(value: object) -> str | None:
    """How a value is kept in the history: enums by their value, dates in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's move; `subject_id` names the contact point or document it is about."""

    field: str
    old: str | None
    new: str | None
    subject_id: int | None = None

    @classmethod
    def of(cls, field: str, old: object, new: object, subject_id: int | None = None) -> FieldChange:
        return cls(field, as_text(old), as_text(new), subject_id)


@dataclass(frozen=True, slots=True)
class Author:
    """Who changes the record: a principal, and the source system when it is an integration."""

    actor: str
    source_system: str | None = None
    correlation_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    id: int
    customer_id: int
    field: str
    old: str | None
    new: str | None
    subject_id: int | None
    actor: str
    source_system: str | None
    correlation_id: str | None
    reason: str | None
    changed_at: datetime

    def policy(self) -> FieldPolicy | None:
        type_name, field = history_policy(self.field)
        return FIELD_POLICIES.get(type_name, {}).get(field)


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    fields: tuple[str, ...] = ()  # a path, or a part's prefix ("contactPoints")
    since: datetime | None = None
    until: datetime | None = None


class MasterDataTransaction(Transaction, Protocol):
    """A unit of work that changes a customer's master record keeps its history and bumps its
    version in the same transaction."""

    async def record_changes(
        self,
        customer_id: int,
        changes: Sequence[FieldChange],
        author: Author,
        *,
        bump: bool = True,
    ) -> int:
        """Append the changes to the history and bump the record's version; the version now.
        `bump=False` is for a new record's first entry: it stays at version 1."""
        ...


class CustomerHistory(Protocol):
    async def changes(
        self, customer_id: int, where: HistoryFilter, before_id: int | None, limit: int
    ) -> Sequence[ChangeEntry]:
        """Newest first: at most `limit` entries older than `before_id`."""
        ...
