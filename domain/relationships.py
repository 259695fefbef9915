"""Relationship state (客户关系状态): a ladder like loan classification, with its history."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import DomainError, InvalidInput


class RelationshipState(enum.StrEnum):
    NORMAL = "normal"  # 正常
    WATCH = "watch"  # 关注: warning starts here
    DOUBTFUL = "doubtful"  # 可疑
    EXIT = "exit"  # 退出: the bank runs its exit plan


@dataclass(frozen=True, slots=True)
class Relationship:
    """The current state; `version` guards concurrent changes."""

    customer_id: int
    state: RelationshipState
    since: datetime
    version: int


@dataclass(frozen=True, slots=True)
class StateChange:
    """One move on the ladder: who moved it, when and why."""

    id: int
    customer_id: int
    from_state: RelationshipState | None
    to_state: RelationshipState
    reason_code: str
    note: str | None
    actor: str
    occurred_at: datetime


class ReasonCode(enum.StrEnum):
    """Why a relationship moves on the ladder."""

    ONBOARDED = "ONBOARDED"
    OVERDUE_PAYMENT = "OVERDUE_PAYMENT"
    BALANCE_DROP = "BALANCE_DROP"
    COMPLAINTS = "COMPLAINTS"
    INDUSTRY_DECLINE = "INDUSTRY_DECLINE"
    FRAUD_SUSPICION = "FRAUD_SUSPICION"
    RECOVERED = "RECOVERED"
    EXIT_PLAN = "EXIT_PLAN"
    REENTRY = "REENTRY"
    OTHER = "OTHER"


# One step at a time, like loan classification; exit is left only by re-entry to normal.
ALLOWED_MOVES = frozenset(
    {
        (RelationshipState.NORMAL, RelationshipState.WATCH),
        (RelationshipState.WATCH, RelationshipState.NORMAL),
        (RelationshipState.WATCH, RelationshipState.DOUBTFUL),
        (RelationshipState.DOUBTFUL, RelationshipState.WATCH),
        (RelationshipState.DOUBTFUL, RelationshipState.EXIT),
        (RelationshipState.EXIT, RelationshipState.NORMAL),  # re-entry: a new relationship
    }
)

PROPOSAL_DEADLINE = timedelta(days=3)
MAX_NOTE = 1000


class InvalidStateTransition(DomainError):
    code = "INVALID_STATE_TRANSITION"


class Conflict(DomainError):
    """Someone changed the relationship since the caller read it."""

    code = "CONFLICT"


class ApprovalRequired(DomainError):
    code = "APPROVAL_REQUIRED"


class MakerCheckerViolation(DomainError):
    code = "MAKER_CHECKER_VIOLATION"


def needs_approval(move: tuple[RelationshipState, RelationshipState]) -> bool:
    """Exit and re-entry from exit are maker-checker: proposed by one, approved by another."""
    return RelationshipState.EXIT in move


def check_move(
    current: Relationship, to_state: RelationshipState, expected_version: int
) -> tuple[RelationshipState, RelationshipState]:
    if current.version != expected_version:
        raise Conflict(
            f"the relationship is at version {current.version}, not {expected_version}; "
            "read it again"
        )
    move = (current.state, to_state)
    if move not in ALLOWED_MOVES:
        raise InvalidStateTransition(
            f"a relationship cannot move from {current.state.value} to {to_state.value}"
        )
    return move


def clean_note(note: str | None) -> str | None:
    text = " ".join(note.split()) if note else ""
    if len(text) > MAX_NOTE:
        raise InvalidInput("note", f"the note is longer than {MAX_NOTE} characters")
    return text or None


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    customer_id: int
    from_state: RelationshipState
    to_state: RelationshipState
    reason_code: ReasonCode
    note: str | None
    proposed_by: str
    proposed_at: datetime
    deadline: datetime
    base_version: int
    status: ProposalStatus
    decided_by: str | None
    decided_at: datetime | None

    def is_overdue(self, now: datetime) -> bool:
        return self.status is ProposalStatus.PENDING and self.deadline < now


@dataclass(frozen=True, slots=True)
class ProposalFilter:
    """Which pending proposals an approver's inbox lists. `checker` is the approver: their own
    proposals are left out, as they may not decide them (maker-checker)."""

    checker: str
    branch_id: int | None = None  # customers homed at the branch or below it
    to_states: frozenset[RelationshipState] | None = None  # the ladder level proposed
    proposed_before: datetime | None = None  # at least this old
    overdue_at: datetime | None = None  # past their decision deadline at this moment


def check_decision(proposal: Proposal, checker: str) -> None:
    if proposal.status is not ProposalStatus.PENDING:
        raise InvalidInput("proposalId", f"the proposal is already {proposal.status.value}")
    if proposal.proposed_by == checker:
        raise MakerCheckerViolation("the maker of a proposal cannot also approve or reject it")
