"""approvals: the approver's inbox of state-change proposals waiting for a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

from domain.errors import DomainError, InvalidInput
from domain.ids import decode_typed_id
from domain.relationships import ProposalFilter, RelationshipState
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import (
    Edge,
    PageInfo,
    check_first,
    decode_id_cursor,
    edges,
    split_page,
)
from schema.relationships.types import StateChangeProposal

MAX_AGE_DAYS = 3660


@strawberry.input(description="Which proposals to list; every field narrows the list.")
class ApprovalFilterInput:
    branch_id: strawberry.ID | None = strawberry.field(
        default=None, description="Customers homed at this branch or one below it."
    )
    to_states: list[RelationshipState] | None = strawberry.field(
        default=None, description="Only moves to these rungs of the ladder (the level asked)."
    )
    older_than_days: int | None = strawberry.field(
        default=None, description="Only proposals waiting at least this many days."
    )
    overdue: bool = strawberry.field(
        default=False, description="Only proposals past their decision deadline."
    )


@strawberry.type(description="A page of proposals waiting for a decision, oldest first.")
class StateChangeProposalConnection:
    edges: list[Edge[StateChangeProposal]] = strawberry.field(
        description="This page, with cursors."
    )
    nodes: list[StateChangeProposal] = strawberry.field(description="Proposals on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


def _where(info: Info, wanted: ApprovalFilterInput | None, now: datetime) -> ProposalFilter:
    checker = info.context.principal.subject
    if wanted is None:
        return ProposalFilter(checker=checker)
    days = wanted.older_than_days
    if days is not None and not 0 <= days <= MAX_AGE_DAYS:
        raise InvalidInput("filter.olderThanDays", f"between 0 and {MAX_AGE_DAYS} days")
    return ProposalFilter(
        checker=checker,
        branch_id=None
        if wanted.branch_id is None
        else decode_typed_id(wanted.branch_id, "Branch", field="filter.branchId"),
        to_states=frozenset(wanted.to_states) if wanted.to_states else None,
        proposed_before=None if days is None else now - timedelta(days=days),
        overdue_at=now if wanted.overdue else None,
    )


async def approvals_page(
    info: Info, first: int, wanted: ApprovalFilterInput | None, after: str | None
) -> StateChangeProposalConnection:
    """The caller's inbox: pending proposals they may decide (not their own), oldest first."""
    try:
        require(info, "approvals")
        check_first(first)
        after_id = decode_id_cursor(after)
        where = _where(info, wanted, datetime.now(UTC))
    except DomainError as exc:
        raise UserFacingError(exc) from exc
    found = await info.context.reader.pending_proposals(where, first + 1, after_id)
    page, page_info = split_page(found, first, lambda p: p.id)
    nodes = [StateChangeProposal.from_domain(p) for p in page]
    return StateChangeProposalConnection(
        edges=edges(nodes, lambda p: p.pk), nodes=nodes, page_info=page_info
    )


@strawberry.type
class ApprovalQueries:
    @strawberry.field(
        description="Proposals waiting for a decision that the caller may decide (their own "
        "are left out: maker-checker), including the detector's; oldest first."
    )
    async def approvals(
        self,
        info: Info,
        first: int,
        filter: ApprovalFilterInput | None = None,
        after: str | None = None,
    ) -> StateChangeProposalConnection:
        return await approvals_page(info, first, filter, after)
