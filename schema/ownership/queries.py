"""RM portfolios, assignment violations and ownership conflicts."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.organisation import RmGrade
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.core.pagination import check_first, decode_id_cursor, edges, split_page
from schema.organisation.types import (
    RelationshipManager,
    load_relationship_manager,
)
from schema.ownership.types import (
    AssignmentViolation,
    AssignmentViolationConnection,
    OwnershipClaim,
    OwnershipConflict,
    OwnershipConflictConnection,
)


@strawberry.type
class OwnershipQueries:
    @strawberry.field(description="A relationship manager; their portfolio for those allowed.")
    async def relationship_manager(
        self, info: Info, id: strawberry.ID
    ) -> RelationshipManager | None:
        try:
            require(info, "relationshipManager")
            pk = decode_typed_id(id, "RelationshipManager")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return await load_relationship_manager(info, pk)

    @strawberry.field(
        description="High-value customers without an RM of the required grade, and customers "
        "whose RM is no longer active (latest scored month)."
    )
    async def assignment_violations(
        self, info: Info, first: int, after: str | None = None
    ) -> AssignmentViolationConnection:
        try:
            require(info, "assignmentViolations")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        grade = RmGrade(info.context.min_rm_grade)
        found = await info.context.ownership.violations(grade, first + 1, after_id)
        page, page_info = split_page(found, first, lambda v: v.customer_id)
        nodes = [
            AssignmentViolation(
                kind=v.kind,
                tier=v.tier,
                required_grade=v.required_grade,
                rm_grade=v.rm_grade,
                customer_pk=v.customer_id,
                rm_pk=v.rm_id,
            )
            for v in page
        ]
        return AssignmentViolationConnection(
            edges=edges(nodes, lambda v: v.customer_pk), nodes=nodes, page_info=page_info
        )

    @strawberry.field(description="Customers claimed by a branch other than their home branch.")
    async def ownership_conflicts(
        self, info: Info, first: int, after: str | None = None
    ) -> OwnershipConflictConnection:
        try:
            require(info, "ownershipConflicts")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.ownership.conflicts(first + 1, after_id)
        page, page_info = split_page(found, first, lambda x: x.customer_id)
        nodes = [
            OwnershipConflict(
                claims=[OwnershipClaim.from_domain(c) for c in x.claims],
                customer_pk=x.customer_id,
                home_pk=x.home_branch_id,
            )
            for x in page
        ]
        return OwnershipConflictConnection(
            edges=edges(nodes, lambda x: x.customer_pk), nodes=nodes, page_info=page_info
        )
