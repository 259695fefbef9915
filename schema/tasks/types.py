"""Tasks in GraphQL: complaints, service requests and follow-ups with an owner and a due date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.access.policy import Visibility
from domain.access.principal import Role
from domain.ids import encode_id
from domain.interactions import Channel
from domain.tasks import (
    CALL_CENTER_QUEUE,
    OwnerKind,
    TaskKind,
    TaskOwner,
    TaskStatus,
)
from domain.tasks import Task as TaskModel
from schema.core.access import views_of
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from schema.core.pagination import Edge, PageInfo
from schema.organisation.types import RelationshipManager, load_relationship_manager

if TYPE_CHECKING:
    from schema.customers.types import Customer

strawberry.enum(TaskKind, description="What a task is about.")


strawberry.enum(TaskStatus, description="Where a task stands.")


strawberry.enum(OwnerKind, description="Who owns a task: a person, an RM, or a queue.")


@strawberry.type(description="A staff member who owns a task, by their sign-in subject.")
class StaffMember:
    subject: str = strawberry.field(description="The subject their sign-in names.")


@strawberry.type(description="A shared work queue, such as the call center's.")
class WorkQueue:
    name: str = strawberry.field(description="The queue's name (e.g. `call_center`).")


TaskOwnerResult = Annotated[
    RelationshipManager | StaffMember | WorkQueue,
    strawberry.union("TaskOwner", description="Who owns a task."),
]


@strawberry.type(description="A complaint, service request or follow-up (回访) to be done.")
class Task:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the task.")
    customer_id: strawberry.ID = strawberry.field(description="The customer it is about.")
    kind: TaskKind = strawberry.field(description="Complaint, service request, follow-up…")
    status: TaskStatus = strawberry.field(description="Open, done or cancelled.")
    title: str | None = strawberry.field(
        description="What is to be done; null for the customer (the bank's own note)."
    )
    owner_kind: OwnerKind | None = strawberry.field(
        description="Staff member, RM or queue; null for the customer."
    )
    due_at: datetime = strawberry.field(description="When it must be done.")
    overdue: bool = strawberry.field(description="Open and past its due date.")
    created_at: datetime = strawberry.field(description="When it was opened.")
    result: str | None = strawberry.field(
        description="What came of it, once done; null for the customer."
    )
    satisfaction: int | None = strawberry.field(description="Customer rating 1-5, once done.")
    completed_at: datetime | None = strawberry.field(description="When it was done.")
    planned_channel: Channel | None = strawberry.field(
        description="How a contact task plans to reach the customer (from the alert's "
        "severity, their value tier and the channel they prefer and consented to); null for "
        "other tasks."
    )
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    owner_model: strawberry.Private[TaskOwner | None]  # None where the field policy hides it

    @classmethod
    def from_domain(cls, task: TaskModel, view: Visibility) -> Task:
        """The task as the caller may see it: `view` is their Visibility of its customer."""
        return cls(
            id=strawberry.ID(encode_id("Task", task.id)),
            customer_id=strawberry.ID(encode_id("Customer", task.customer_id)),
            kind=task.kind,
            status=task.status,
            title=view.apply("Task", "title", task.title),
            owner_kind=task.owner.kind if view.shows("Task", "ownerKind") else None,
            due_at=task.due_at,
            overdue=task.is_overdue(datetime.now(UTC)),
            created_at=task.created_at,
            result=view.apply("Task", "result", task.result),
            satisfaction=task.satisfaction,
            completed_at=task.completed_at,
            planned_channel=task.planned_channel,
            pk=task.id,
            customer_pk=task.customer_id,
            owner_model=task.owner if view.shows("Task", "owner") else None,
        )

    @strawberry.field(
        description="Who owns it: the RM (with their global id), a staff member or a queue; "
        "null for the customer."
    )
    async def owner(self, info: Info) -> TaskOwnerResult | None:
        match self.owner_model:
            case None:
                return None
            case TaskOwner(kind=OwnerKind.RM, ref=ref):
                return await load_relationship_manager(info, int(ref))
            case TaskOwner(kind=OwnerKind.STAFF, ref=ref):
                return StaffMember(subject=ref)
            case TaskOwner(ref=ref):
                return WorkQueue(name=ref)

    @strawberry.field(
        description="The customer, as the caller may see them (one batched read for a whole "
        "queue, masked and audited like every other path to a customer)."
    )
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers.types")] | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.customer_pk)


@strawberry.type(description="A page of tasks, soonest due first.")
class TaskConnection:
    edges: list[Edge[Task]] = strawberry.field(description="This page, with cursors.")
    nodes: list[Task] = strawberry.field(description="Tasks on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


def my_owners(info: Info) -> list[TaskOwner]:
    """The task owners the signed-in staff member answers for."""
    principal = info.context.principal
    owners = [TaskOwner(OwnerKind.STAFF, principal.subject)]
    if principal.rm_id is not None:
        owners.append(TaskOwner(OwnerKind.RM, str(principal.rm_id)))
    if principal.role is Role.AGENT:
        owners.append(TaskOwner(OwnerKind.QUEUE, CALL_CENTER_QUEUE))
    return owners


@strawberry.input(description="Open a task on its own, e.g. a follow-up instruction.")
class CreateTaskInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer it is about.")
    kind: TaskKind = strawberry.field(description="What kind of task.")
    title: str = strawberry.field(description="What is to be done (≤ 200 characters).")
    due_at: datetime | None = strawberry.field(
        default=None, description="When it must be done; a default per kind otherwise."
    )
    owner_kind: OwnerKind | None = strawberry.field(
        default=None, description="Who owns it; the customer's RM (or the queue) otherwise."
    )
    owner: str | None = strawberry.field(
        default=None,
        description="With ownerKind: a staff subject, the RM's global id, or a queue name.",
    )


@strawberry.input(description="Record the result of a task; it goes onto the timeline.")
class CompleteTaskInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    result: str = strawberry.field(description="What came of it (≤ 2000 characters).")
    satisfaction: int | None = strawberry.field(default=None, description="Customer rating 1-5.")
    channel: Channel = strawberry.field(
        default=Channel.CALL_CENTER, description="How the follow-up was made."
    )


TaskResult = Annotated[
    Task | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("TaskResult", description="The task, or why not."),
]


async def shown(info: Info, tasks: Sequence[TaskModel]) -> list[Task]:
    """Tasks as the caller may see them (their customers read in one batch, and audited)."""
    views = await views_of(info, (t.customer_id for t in tasks))
    return [Task.from_domain(t, views[t.customer_id]) for t in tasks if t.customer_id in views]


async def _reload(info: Info, task_id: int) -> Task:
    (task,) = (await info.context.reader.tasks_by_id([task_id])).values()
    (answer,) = await shown(info, [task])
    return answer
