"""viewer: the signed-in staff member, and their own work, without building an id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.access.principal import Principal, Role
from domain.errors import DomainError
from domain.tasks import TaskStatus
from schema.alerts.queries import alerts_page
from schema.alerts.types import AlertConnection, AlertFilterInput
from schema.core.access import may_use, require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.organisation.types import (
    Branch,
    RelationshipManager,
    branch_by_code,
    load_relationship_manager,
)
from schema.relationships.queries import (
    ApprovalFilterInput,
    StateChangeProposalConnection,
    approvals_page,
)
from schema.tasks.queries import tasks_page
from schema.tasks.types import TaskConnection

if TYPE_CHECKING:
    from schema.ownership.types import Portfolio

strawberry.enum(Role, name="Role", description="What the signed-in caller is to the bank.")


@strawberry.type(
    description="The signed-in staff member: who they are and their own work. A list their "
    "role has no part in is null (an agent has no approvals, an analyst no task queue)."
)
class Viewer:
    subject: str = strawberry.field(description="The subject the sign-in names.")
    role: Role = strawberry.field(description="Their role.")
    branch_code: str | None = strawberry.field(description="Their branch's code, if any.")
    principal: strawberry.Private[Principal]

    @strawberry.field(description="Their branch (null when the sign-in names none or no such).")
    async def branch(self, info: Info) -> Branch | None:
        if self.branch_code is None:
            return None
        found = await branch_by_code(info, self.branch_code)
        return None if found is None else Branch.from_domain(found)

    @strawberry.field(description="Their staff record, for a relationship manager.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        return await load_relationship_manager(info, self.principal.rm_id)

    @strawberry.field(description="Their book of customers, for a relationship manager.")
    async def portfolio(
        self, info: Info
    ) -> Annotated[Portfolio, strawberry.lazy("schema.ownership.types")] | None:
        from schema.ownership.types import load_portfolio

        if self.principal.rm_id is None:
            return None
        return await load_portfolio(info, self.principal.rm_id)

    @strawberry.field(description="Their task queue (as myTasks), soonest due first.")
    async def tasks(
        self,
        info: Info,
        first: int,
        status: TaskStatus | None = TaskStatus.OPEN,
        overdue: bool = False,
        after: str | None = None,
    ) -> TaskConnection | None:
        if not may_use(info, "myTasks"):
            return None
        return await tasks_page(info, first, status, overdue, after)

    @strawberry.field(description="The alerts they handle (as alerts), newest first.")
    async def alerts(
        self,
        info: Info,
        first: int,
        filter: AlertFilterInput | None = None,
        after: str | None = None,
    ) -> AlertConnection | None:
        if not may_use(info, "alerts"):
            return None
        return await alerts_page(info, first, filter, after)

    @strawberry.field(description="Proposals waiting for their decision (as approvals).")
    async def pending_approvals(
        self,
        info: Info,
        first: int,
        filter: ApprovalFilterInput | None = None,
        after: str | None = None,
    ) -> StateChangeProposalConnection | None:
        if not may_use(info, "approvals"):
            return None
        return await approvals_page(info, first, filter, after)


@strawberry.type
class ViewerQueries:
    @strawberry.field(
        description="The signed-in staff member and their own work: role, branch, staff "
        "record, portfolio, task queue, alerts and pending approvals. Customers use `me`."
    )
    def viewer(self, info: Info) -> Viewer:
        try:
            require(info, "viewer")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        principal = info.context.principal
        return Viewer(
            subject=principal.subject,
            role=principal.role,
            branch_code=principal.branch,
            principal=principal,
        )
