"""What a bulk import reads, decides and reports, whatever the kind of record.

A file (or a batch mutation) is a sequence of flat records, each numbered by the line it came
from. Every record ends in one outcome; a refused one carries a typed reason naming its
column. Per-record errors never stop the run.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import DomainError, InvalidInput


class Outcome(enum.StrEnum):
    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the source's record is the one imported last time: no write
    SUPERSEDED = "superseded"  # a later line of the same run has the same source key
    PENDING = "pending"  # kept until what it refers to arrives (--defer-missing)
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record as read: its line (1-based; a CSV header is line 1) and its values as
    text, None for an empty or absent column."""

    line: int
    values: Mapping[str, str | None]

    def get(self, column: str) -> str | None:
        return self.values.get(column)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a record was not imported: the line of the machine-readable report."""

    line: int
    source_key: str | None
    field: str | None  # the column at fault; None: the record as a whole (a malformed line)
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "sourceKey": self.source_key,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


def refusal_of(exc: DomainError, line: int, source_key: str | None) -> Refusal:
    """The report line for a domain error raised while checking a record."""
    field_name = exc.field if isinstance(exc, InvalidInput) else getattr(exc, "field", None)
    return Refusal(line, source_key, field_name, exc.code, exc.message)


@dataclass(slots=True)
class Tally:
    """The run's counts: every record read is in exactly one of them."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    pending: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by code

    def count(self, outcome: Outcome, code: str | None = None) -> None:
        if outcome is Outcome.REFUSED:
            self.refused[code or "INVALID_INPUT"] += 1
        else:
            name = outcome.value
            setattr(self, name, getattr(self, name) + 1)

    def add(self, other: Tally) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.superseded += other.superseded
        self.pending += other.pending
        self.refused.update(other.refused)

    @property
    def records(self) -> int:
        return (
            self.inserted
            + self.updated
            + self.unchanged
            + self.superseded
            + self.pending
            + sum(self.refused.values())
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "superseded": self.superseded,
            "pending": self.pending,
            "refused": dict(sorted(self.refused.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        return cls(
            inserted=int(data.get("inserted", 0)),
            updated=int(data.get("updated", 0)),
            unchanged=int(data.get("unchanged", 0)),
            superseded=int(data.get("superseded", 0)),
            pending=int(data.get("pending", 0)),
            refused=Counter({str(k): int(v) for k, v in dict(data.get("refused", {})).items()}),
        )
