"""The bank's organisation as GraphQL: branches and relationship managers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.access.principal import Role
from domain.ids import encode_id
from domain.organisation import Branch as BranchModel
from domain.organisation import BranchKind, RmGrade
from domain.organisation import RelationshipManager as RelationshipManagerModel
from domain.reference_data import ReferenceQuery
from schema.core.context import Info
from schema.core.node import Node

if TYPE_CHECKING:
    from schema.ownership.types import Portfolio


@strawberry.type(description="An organisational unit: head office, branch or sub-branch.")
class Branch(Node):
    code: str = strawberry.field(description="The bank's branch code.")
    name: str = strawberry.field(description="Branch name.")
    city: str = strawberry.field(description="City the branch is in.")
    kind: BranchKind = strawberry.field(description="Head office, branch or sub-branch.")
    retired_at: datetime | None = strawberry.field(
        description="When it was retired: kept for what refers to it, no new customers."
    )
    parent_id: strawberry.Private[int | None]

    @classmethod
    def from_domain(cls, branch: BranchModel) -> Branch:
        return cls(
            id=strawberry.ID(encode_id("Branch", branch.id)),
            code=branch.code,
            name=branch.name,
            city=branch.city,
            kind=branch.kind,
            retired_at=branch.retired_at,
            parent_id=branch.parent_id,
        )

    @strawberry.field(description="The unit this one reports to; null for the head office.")
    async def parent(self, info: Info) -> Branch | None:
        return await load_branch(info, self.parent_id)


@strawberry.type(description="A relationship manager (客户经理) accountable for customers.")
class RelationshipManager(Node):
    employee_no: str = strawberry.field(description="Staff number.")
    name: str = strawberry.field(description="Full name.")
    grade: RmGrade = strawberry.field(description="Grade; senior grades serve key customers.")
    active: bool = strawberry.field(description="False once the RM has left or is suspended.")
    branch_id: strawberry.Private[int]
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, rm: RelationshipManagerModel) -> RelationshipManager:
        return cls(
            id=strawberry.ID(encode_id("RelationshipManager", rm.id)),
            employee_no=rm.employee_no,
            name=rm.name,
            grade=rm.grade,
            active=rm.active,
            branch_id=rm.branch_id,
            pk=rm.id,
        )

    @strawberry.field(
        description="The RM's book: customers, totals, contribution, tier mix, open alerts and "
        "tasks. The RM themself, approvers, compliance and admins; FORBIDDEN for anyone else."
    )
    async def portfolio(
        self, info: Info
    ) -> Annotated[Portfolio, strawberry.lazy("schema.ownership.types")] | None:
        from schema.ownership.types import load_portfolio

        return await load_portfolio(info, self.pk)

    @strawberry.field(description="The branch the RM is attached to.")
    async def branch(self, info: Info) -> Branch | None:
        return await load_branch(info, self.branch_id)


async def load_branch(info: Info, pk: int | None) -> Branch | None:
    """A branch through the request's loader; None for no id or no such branch."""
    if pk is None:
        return None
    found = await info.context.loaders.branch_by_id.load(pk)
    return None if found is None else Branch.from_domain(found)


async def own_branch_id(info: Info) -> int | None:
    """The id of the branch a branch manager's sign-in names (None for other roles, and for
    a code that names no branch: their reports are then refused, never bank-wide)."""
    principal = info.context.principal
    if principal.role is not Role.BRANCH_MANAGER or principal.branch is None:
        return None
    found = await branch_by_code(info, principal.branch)
    return None if found is None else found.id


async def branch_by_code(info: Info, code: str) -> BranchModel | None:
    """The branch a sign-in's `branch` claim names (retired ones too), or None."""
    found = await info.context.reference.branches(
        ReferenceQuery(code=code, include_retired=True), None, 1
    )
    return found[0] if found else None


async def load_relationship_manager(info: Info, pk: int | None) -> RelationshipManager | None:
    """An RM through the request's loader; None for no id or no such RM."""
    if pk is None:
        return None
    found = await info.context.loaders.relationship_manager_by_id.load(pk)
    return None if found is None else RelationshipManager.from_domain(found)
