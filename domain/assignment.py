"""Who owns a customer: one accountable RM (and a team for key customers), one branch.

The relationship belongs to the bank, not the RM: when an RM leaves, `reassign_portfolio`
moves every customer, with their open RM tasks, to a successor in one transaction, and each
move lands on the customer's timeline. A high-value customer is served by an RM of at least
the configured grade. Several branches claiming one customer is a conflict an approver
resolves by naming the owning branch.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from domain.access.principal import Principal
from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.organisation import Branch, ClaimStatus, RelationshipManager, RmGrade
from domain.products import CurrencyTotals
from domain.transaction import Transaction
from domain.value.tiers import ValueTier

MAX_REASON = 200
MAX_PORTFOLIO_MOVE = 50_000  # one transaction; a larger book moves in named slices


class GradeTooLow(RuleViolation):
    code = "RM_GRADE_TOO_LOW"


class RmInactive(RuleViolation):
    code = "RM_INACTIVE"


class AlreadyOwner(RuleViolation):
    code = "ALREADY_OWNER"


class ClaimExists(RuleViolation):
    code = "CLAIM_EXISTS"


class ViolationKind(enum.StrEnum):
    NO_RM = "no_rm"  # a high-value customer nobody is accountable for
    GRADE_TOO_LOW = "grade_too_low"
    RM_INACTIVE = "rm_inactive"  # an RM who left still owns the customer


@dataclass(frozen=True, slots=True)
class RmAssignment:
    id: int
    customer_id: int
    from_rm_id: int | None
    to_rm_id: int
    reason: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Reassignment:
    moved: tuple[RmAssignment, ...]
    remaining: int  # customers the former RM still has, counted under the same lock


@dataclass(frozen=True, slots=True)
class Violation:
    customer_id: int
    kind: ViolationKind
    tier: ValueTier | None
    rm_id: int | None
    rm_grade: RmGrade | None
    required_grade: RmGrade


@dataclass(frozen=True, slots=True)
class OwnershipClaim:
    id: int
    customer_id: int
    branch_id: int
    note: str | None
    status: ClaimStatus
    claimed_by: str
    claimed_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class OwnershipConflict:
    customer_id: int
    home_branch_id: int | None
    claims: tuple[OwnershipClaim, ...]


class AssignmentUnitOfWork(Transaction, Protocol):
    """One transaction; customers are locked before anything about them is decided."""

    async def relationship_manager(self, rm_id: int) -> RelationshipManager | None: ...

    async def branch(self, branch_id: int) -> Branch | None: ...

    async def lock_customers(self, ids: Sequence[int]) -> Mapping[int, int | None]:
        """customer id → current primary RM, for the customers that exist (locked)."""
        ...

    async def lock_portfolio(self, rm_id: int) -> list[int]:
        """The RM's customers, locked."""
        ...

    async def tiers(self, ids: Sequence[int]) -> Mapping[int, ValueTier]:
        """Each customer's tier in the latest scored month."""
        ...

    async def move(
        self,
        ids: Sequence[int],
        from_rm: Mapping[int, int | None],
        to_rm: int,
        reason: str,
        actor: str,
        at: datetime,
    ) -> list[RmAssignment]:
        """Set the primary RM, record each move, hand over the old RMs' open tasks."""
        ...

    async def home_branch(self, customer_id: int) -> tuple[bool, int | None]:
        """(customer exists, its home branch), the customer row locked."""
        ...

    async def add_claim(
        self, customer_id: int, branch_id: int, note: str | None, actor: str, at: datetime
    ) -> OwnershipClaim | None:
        """None when the branch already has an open claim on the customer."""
        ...

    async def resolve(
        self, customer_id: int, branch_id: int, actor: str, at: datetime
    ) -> list[OwnershipClaim]:
        """Make the branch the home branch; grant its claim, reject the other open ones."""
        ...

    async def replace_team(
        self, customer_id: int, team: Sequence[TeamMember], actor: str
    ) -> None: ...


def check_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > MAX_REASON:
        raise InvalidInput("reason", f"say why, in 1 to {MAX_REASON} characters")
    return cleaned


def check_successor(
    rm: RelationshipManager | None,
    rm_id: int,
    tiers: Mapping[int, ValueTier],
    min_grade: RmGrade,
    field: str,
) -> RelationshipManager:
    """The RM may take these customers: exists, active, senior enough for the high-value."""
    if rm is None:
        raise NotFound("RelationshipManager", str(rm_id))
    if not rm.active:
        raise RmInactive(f"relationship manager {rm.employee_no} is not active")
    high = sorted(c for c, tier in tiers.items() if tier is ValueTier.HIGH)
    if high and rm.grade < min_grade:
        raise GradeTooLow(
            f"{len(high)} high-value customer(s) need an RM of grade {min_grade.name.lower()} or "
            f"above; {rm.employee_no} is {rm.grade.name.lower()} ({field})"
        )
    return rm


async def assign(
    uow: AssignmentUnitOfWork,
    customer_id: int,
    rm_id: int,
    principal: Principal,
    reason: str,
    now: datetime,
    min_grade: RmGrade,
) -> RmAssignment | None:
    """Make `rm_id` the customer's primary RM; None when it already is (nothing recorded)."""
    why = check_reason(reason)
    async with uow:
        current = await uow.lock_customers([customer_id])
        if customer_id not in current:
            raise NotFound("Customer", str(customer_id))
        if current[customer_id] == rm_id:
            return None
        rm = await uow.relationship_manager(rm_id)
        check_successor(
            rm, rm_id, await uow.tiers([customer_id]), min_grade, "relationshipManagerId"
        )
        [moved] = await uow.move([customer_id], current, rm_id, why, principal.subject, now)
        await _announce(uow, [moved])
        await uow.commit()
        return moved


async def reassign_portfolio(
    uow: AssignmentUnitOfWork,
    from_rm: int,
    to_rm: int,
    customer_ids: Sequence[int] | None,
    principal: Principal,
    reason: str,
    now: datetime,
    min_grade: RmGrade,
) -> Reassignment:
    """Move the RM's customers (all, or those named) to the successor, all or nothing."""
    why = check_reason(reason)
    if from_rm == to_rm:
        raise InvalidInput("toRm", "the successor must be another relationship manager")
    async with uow:
        if await uow.relationship_manager(from_rm) is None:
            raise NotFound("RelationshipManager", str(from_rm))
        portfolio = await uow.lock_portfolio(from_rm)
        if customer_ids is None:
            chosen = portfolio
        else:
            outside = sorted(set(customer_ids) - set(portfolio))
            if outside:
                raise InvalidInput(
                    "customers", f"{len(outside)} of the customers are not in this portfolio"
                )
            chosen = sorted(set(customer_ids))
        if len(chosen) > MAX_PORTFOLIO_MOVE:
            raise InvalidInput(
                "customers", f"move at most {MAX_PORTFOLIO_MOVE:,} customers at a time"
            )
        rm = await uow.relationship_manager(to_rm)
        check_successor(rm, to_rm, await uow.tiers(chosen), min_grade, "toRm")
        moved = await uow.move(
            chosen, dict.fromkeys(chosen, from_rm), to_rm, why, principal.subject, now
        )
        await _announce(uow, moved)
        await uow.commit()
        return Reassignment(tuple(moved), remaining=len(portfolio) - len(chosen))


async def _announce(uow: AssignmentUnitOfWork, moved: Sequence[RmAssignment]) -> None:
    for m in moved:
        await uow.emit(
            m.customer_id,
            "relationship_manager.assigned",
            {"assignmentId": m.id, "fromRmId": m.from_rm_id, "toRmId": m.to_rm_id},
        )


def check_note(note: str | None) -> str | None:
    if note is None:
        return None
    cleaned = note.strip()
    if len(cleaned) > 500:
        raise InvalidInput("note", "a note has at most 500 characters")
    return cleaned or None


async def claim_ownership(
    uow: AssignmentUnitOfWork,
    customer_id: int,
    branch_id: int,
    note: str | None,
    principal: Principal,
    now: datetime,
) -> OwnershipClaim:
    cleaned = check_note(note)
    async with uow:
        exists, home = await uow.home_branch(customer_id)
        if not exists:
            raise NotFound("Customer", str(customer_id))
        if await uow.branch(branch_id) is None:
            raise NotFound("Branch", str(branch_id))
        if home == branch_id:
            raise AlreadyOwner("the branch already owns this customer")
        claim = await uow.add_claim(customer_id, branch_id, cleaned, principal.subject, now)
        if claim is None:
            raise ClaimExists("the branch already has an open claim on this customer")
        await uow.emit(
            customer_id, "ownership.claimed", {"claimId": claim.id, "branchId": branch_id}
        )
        await uow.commit()
        return claim


async def resolve_conflict(
    uow: AssignmentUnitOfWork,
    customer_id: int,
    branch_id: int,
    principal: Principal,
    now: datetime,
) -> list[OwnershipClaim]:
    """The branch owns the customer from now on; every open claim is decided."""
    async with uow:
        exists, _ = await uow.home_branch(customer_id)
        if not exists:
            raise NotFound("Customer", str(customer_id))
        if await uow.branch(branch_id) is None:
            raise NotFound("Branch", str(branch_id))
        decided = await uow.resolve(customer_id, branch_id, principal.subject, now)
        await uow.emit(
            customer_id,
            "ownership.resolved",
            {"branchId": branch_id, "claimIds": [c.id for c in decided]},
        )
        await uow.commit()
        return decided


@dataclass(frozen=True, slots=True)
class TeamMember:
    rm_id: int
    role: str


@dataclass(frozen=True, slots=True)
class PortfolioSummary:
    """An RM's book: what RMs are measured by."""

    rm_id: int
    customers: int
    totals: tuple[CurrencyTotals, ...]
    period: date | None  # the latest scored month
    contribution: Decimal
    tiers: Mapping[ValueTier, int]
    open_alerts: int
    open_tasks: int


class OwnershipReader(Protocol):
    async def portfolio(self, rm_id: int) -> PortfolioSummary: ...

    async def portfolio_page(self, rm_id: int, first: int, after: int | None) -> list[int]:
        """Customer ids of the RM's portfolio in id order, after `after`."""
        ...

    async def assignments(self, customer_ids: Sequence[int]) -> Mapping[int, list[RmAssignment]]:
        """Each customer's RM changes, newest first."""
        ...

    async def teams(self, customer_ids: Sequence[int]) -> Mapping[int, list[TeamMember]]: ...

    async def violations(
        self, min_grade: RmGrade, first: int, after: int | None
    ) -> list[Violation]: ...

    async def conflicts(self, first: int, after: int | None) -> list[OwnershipConflict]: ...


MAX_TEAM = 10


def check_team(members: Sequence[TeamMember], primary: int | None) -> list[TeamMember]:
    if len(members) > MAX_TEAM:
        raise InvalidInput("members", f"a team has at most {MAX_TEAM} members")
    seen: set[int] = set()
    for i, m in enumerate(members):
        role = m.role.strip()
        if not role or len(role) > 60:
            raise InvalidInput(f"members[{i}].role", "a role has 1 to 60 characters")
        if m.rm_id in seen:
            raise InvalidInput(
                f"members[{i}].relationshipManagerId", "an RM appears twice in the team"
            )
        if m.rm_id == primary:
            raise InvalidInput(
                f"members[{i}].relationshipManagerId", "the primary RM is not a team member"
            )
        seen.add(m.rm_id)
    return [TeamMember(m.rm_id, m.role.strip()) for m in members]


async def set_team(
    uow: AssignmentUnitOfWork,
    customer_id: int,
    members: Sequence[TeamMember],
    principal: Principal,
) -> list[TeamMember]:
    """Replace the RMs who serve a key customer beside the primary RM."""
    async with uow:
        current = await uow.lock_customers([customer_id])
        if customer_id not in current:
            raise NotFound("Customer", str(customer_id))
        team = check_team(members, current[customer_id])
        for i, m in enumerate(team):
            rm = await uow.relationship_manager(m.rm_id)
            if rm is None:
                raise NotFound("RelationshipManager", str(m.rm_id))
            if not rm.active:
                raise RmInactive(
                    f"members[{i}]: relationship manager {rm.employee_no} is not active"
                )
        await uow.replace_team(customer_id, team, principal.subject)
        await uow.emit(customer_id, "relationship_manager.team_changed", {"members": len(team)})
        await uow.commit()
        return team
