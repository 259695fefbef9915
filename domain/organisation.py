"""The bank's organisation: head office → branches → sub-branches, and relationship managers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class BranchKind(enum.StrEnum):
    HEAD_OFFICE = "head_office"
    BRANCH = "branch"
    SUB_BRANCH = "sub_branch"


class ClaimStatus(enum.StrEnum):
    """A branch's claim to own a customer (several sub-branches chasing one customer)."""

    OPEN = "open"
    GRANTED = "granted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class RmGrade(enum.IntEnum):
    """Relationship manager grade; senior grades serve high-value customers."""

    JUNIOR = 1
    INTERMEDIATE = 2
    SENIOR = 3
    PRINCIPAL = 4


@dataclass(frozen=True, slots=True)
class Branch:
    id: int
    code: str
    name: str
    city: str
    kind: BranchKind
    parent_id: int | None
    retired_at: datetime | None = None  # retired, never deleted: records still refer to it


@dataclass(frozen=True, slots=True)
class RelationshipManager:
    """客户经理: accountable for a portfolio of customers, attached to one branch."""

    id: int
    employee_no: str
    name: str
    grade: RmGrade
    branch_id: int
    active: bool
