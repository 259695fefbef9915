"""createTask / completeTask: follow-ups, complaints and service requests."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.access.principal import Role
from domain.errors import DomainError, Forbidden
from domain.ids import decode_typed_id
from domain.recording import complete_task, open_task
from domain.tasks import (
    OwnerKind,
    may_work_on,
    validate_due,
    validate_owner,
    validate_title,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    error_type,
)
from schema.tasks.types import CompleteTaskInput, CreateTaskInput, TaskResult, _reload


def _owner_ref(kind: OwnerKind | None, owner: str | None) -> str | None:
    """An RM owner is named by the RM's global id, as every id is; the row number is still
    taken, for clients written before RMs had global ids here."""
    if kind is not OwnerKind.RM or owner is None or owner.strip().isdigit():
        return owner
    return str(decode_typed_id(owner.strip(), "RelationshipManager", field="owner"))


@strawberry.type
class TaskMutations:
    @strawberry.mutation(description="Open a task, e.g. a follow-up instruction (回访).")
    async def create_task(self, info: Info, input: CreateTaskInput) -> TaskResult:
        now = datetime.now(UTC)
        try:
            require(info, "createTask")
            pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            title = validate_title(input.title)
            due = None if input.due_at is None else validate_due(input.due_at, now)
            owner = validate_owner(input.owner_kind, _owner_ref(input.owner_kind, input.owner))
            task_id = await open_task(
                info.context.recording,
                pk,
                input.kind,
                title,
                owner,
                due,
                info.context.principal.subject,
                now,
            )
        except DomainError as exc:
            return error_type(exc)
        return await _reload(info, task_id)

    @strawberry.mutation(
        description="Record a task's result: the task is done and the result is written to "
        "the customer's timeline as a follow-up interaction."
    )
    async def complete_task(self, info: Info, input: CompleteTaskInput) -> TaskResult:
        principal = info.context.principal
        try:
            require(info, "completeTask")
            task_id = decode_typed_id(input.task_id, "Task", field="taskId")
            await complete_task(
                info.context.recording,
                task_id,
                input.result,
                input.satisfaction,
                input.channel,
                principal.subject,
                lambda t: may_work_on(
                    t, principal.subject, principal.rm_id, principal.role is Role.AGENT
                ),
                datetime.now(UTC),
            )
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
        except DomainError as exc:
            return error_type(exc)
        return await _reload(info, task_id)
