"""Who read what: one append-only record per operation that returned personal data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    occurred_at: datetime
    correlation_id: str
    subject: str
    role: str
    channel: str
    purpose: str
    operation: str | None
    customer_ids: tuple[int, ...]
    fields: tuple[str, ...]  # "Type.field:clear" / "Type.field:masked"
    outcome: str  # returned | denied | failed


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: tuple[AuditRecord, ...]
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class StillCurrent:
    """Write the row only if the customer's answer is still the one the counters describe
    (a cached answer: served only while no committed write has changed it)."""

    customer_id: int
    version: int
    reference_version: int


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None:
        """Write the entry durably, or raise: the caller must not return the data then."""
        ...

    async def record_if_current(self, entry: AuditEntry, condition: StillCurrent) -> bool:
        """Write the entry only while `condition` holds; False (nothing written) otherwise."""
        ...

    async def trail(self, customer_id: int, first: int, before_id: int | None) -> AuditPage:
        """Records that name the customer, newest first."""
        ...


def field_label(type_name: str, field: str, outcome: str) -> str:
    return f"{type_name}.{field}:{outcome}"


def summarize_fields(labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(labels)))
