"""alerts: what detection found, for those who handle each customer's alerts."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from schema.alerts.types import AlertConnection, AlertFilterInput, _filter, shown
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.core.pagination import check_first, decode_id_cursor, edges, split_page


async def alerts_page(
    info: Info, first: int, filter: AlertFilterInput | None, after: str | None
) -> AlertConnection:
    """Alerts the caller handles, newest first."""
    try:
        require(info, "alerts")
        check_first(first)
        after_id = decode_id_cursor(after)
        wanted = _filter(info, filter)
    except DomainError as exc:
        raise UserFacingError(exc) from exc
    found = await info.context.alerts.alerts(wanted, first + 1, after_id)
    page, page_info = split_page(found, first, lambda x: x.id)
    nodes = await shown(info, page)
    return AlertConnection(edges=edges(nodes, lambda a: a.pk), nodes=nodes, page_info=page_info)


@strawberry.type
class AlertQueries:
    @strawberry.field(
        description="Alerts the caller handles: an RM their portfolio's, the call center "
        "those of customers without an RM, approvers and compliance all."
    )
    async def alerts(
        self,
        info: Info,
        first: int,
        filter: AlertFilterInput | None = None,
        after: str | None = None,
    ) -> AlertConnection:
        return await alerts_page(info, first, filter, after)
