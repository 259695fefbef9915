"""myTasks: the signed-in staff member's tasks and queue."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.errors import DomainError
from domain.tasks import (
    TaskStatus,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.core.pagination import PageInfo, check_first, decode_id_cursor, edges, encode_cursor
from schema.tasks.types import TaskConnection, my_owners, shown


async def tasks_page(
    info: Info, first: int, status: TaskStatus | None, overdue: bool, after: str | None
) -> TaskConnection:
    """The signed-in staff member's tasks and queue, soonest due first."""
    try:
        require(info, "myTasks")
        check_first(first)
        after_id = decode_id_cursor(after)
    except DomainError as exc:
        raise UserFacingError(exc) from exc
    tasks, more = await info.context.reader.tasks_for_owners(
        my_owners(info), status, datetime.now(UTC) if overdue else None, first, after_id
    )
    nodes = await shown(info, tasks)
    return TaskConnection(
        edges=edges(nodes, lambda t: t.pk),
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=more,
            end_cursor=encode_cursor(str(tasks[-1].id)) if tasks else None,
            start_cursor=encode_cursor(str(tasks[0].id)) if tasks else None,
        ),
    )


@strawberry.type
class TaskQueries:
    @strawberry.field(description="Tasks of the signed-in staff member (and their queue).")
    async def my_tasks(
        self,
        info: Info,
        first: int,
        status: TaskStatus | None = TaskStatus.OPEN,
        overdue: bool = False,
        after: str | None = None,
    ) -> TaskConnection:
        return await tasks_page(info, first, status, overdue, after)
