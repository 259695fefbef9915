"""The data steward's review of candidate pairs: what the queue shows, the decisions, and the
port the adapters implement (api/db/identity.py, api/db/merges.py)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.errors import RuleViolation


class CandidateStatus(enum.StrEnum):
    PENDING = "pending"  # waits for a steward
    NOT_SAME = "not_same"  # a steward said: two customers (not proposed again unless changed)
    MERGED = "merged"
    SUPERSEDED = "superseded"  # one of the records was merged with a third


class Decision(enum.StrEnum):
    MERGE = "merge"
    NOT_SAME = "not_same"


class AlreadyDecided(RuleViolation):
    code = "ALREADY_DECIDED"


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    left_id: int
    right_id: int
    probability: float
    weight: float
    evidence: Sequence[Mapping[str, Any]]
    model_version: str
    status: CandidateStatus
    found_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """A merge as the steward reads it back."""

    id: int
    survivor_id: int
    merged_id: int
    candidate_id: int | None
    status: str  # merged, unmerged
    probability: float | None
    evidence: Sequence[Mapping[str, Any]]
    reason: str | None
    lineage: Mapping[str, Mapping[str, Any]]
    outcomes: Mapping[str, Any]
    decided_by: str
    decided_at: datetime
    undone_by: str | None
    undone_at: datetime | None
    undo_report: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class MergeRequest:
    left_id: int
    right_id: int
    actor: str
    role: str
    correlation_id: str
    survivor_id: int | None = None  # None: the documented rules choose
    candidate_id: int | None = None
    probability: float | None = None
    evidence: list[dict[str, Any]] | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MergeDone:
    """A merge made or undone; what it did is kept with it (`MergeRecord`)."""

    merge_id: int
    survivor_id: int
    merged_id: int


class IdentityReview(Protocol):
    async def candidates(
        self,
        status: CandidateStatus,
        min_probability: float,
        customer_id: int | None,
        after: int | None,
        limit: int,
    ) -> Sequence[Candidate]:
        """Candidate pairs in id order (the queue), after the cursor."""
        ...

    async def candidate(self, candidate_id: int) -> Candidate | None: ...

    async def decide_not_same(self, candidate_id: int, actor: str, note: str | None) -> Candidate:
        """Record that the pair is two customers; AlreadyDecided unless pending."""
        ...

    async def merges(
        self, customer_id: int | None, after: int | None, limit: int
    ) -> Sequence[MergeRecord]:
        """Merges, newest first; of one customer (either side) when given."""
        ...

    async def merge_record(self, merge_id: int) -> MergeRecord | None: ...


class Merges(Protocol):
    async def merge(self, request: MergeRequest) -> MergeDone:
        """Merge the two records in one transaction (domain/identity/merging.py's rules)."""
        ...

    async def unmerge(self, merge_id: int, actor: str, role: str, correlation_id: str) -> MergeDone:
        """Undo a merge: both records as they were, and what arrived since split by origin."""
        ...
