"""Live updates for the agent desktop: `customerActivity` over graphql-transport-ws."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.access.counter_sessions import CounterSessionUnavailable
from domain.access.policy import Visibility
from domain.access.principal import Role
from domain.errors import NotFound
from schema.core.access import visible
from schema.core.context import Info


@strawberry.type(
    description="Something happened to the customer. Events carry ids and kinds (a fund "
    "movement also its amount and direction, where the caller may see them): read the details "
    "through the queries (masked and audited as usual)."
)
class ActivityEvent:
    sequence: int = strawberry.field(
        description="Increasing per service: spot a repeat (at-least-once) or a gap."
    )
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    topic: str = strawberry.field(
        description="interaction.recorded, task.opened, task.completed, holding.opened, "
        "holding.changed, holding.closed, fund_movement.recorded, …"
    )
    occurred_at: datetime = strawberry.field(description="When the change was committed.")
    payload: JSON = strawberry.field(description="Ids and kinds of what changed.")


async def _visible_now(info: Info, pk: int, customer_id: strawberry.ID) -> Visibility:
    """The caller's view of the customer as it is now, read afresh: an RM reassigned or a
    counter session ended since the subscription started changes what the next event shows.
    A teller's session is looked at, not extended: only the teller's own actions keep it."""
    context = info.context
    if context.principal.role is Role.TELLER:
        try:
            context.sessions_checked[pk] = await context.counter_sessions.is_open(
                context.principal.subject, pk
            )
        except CounterSessionUnavailable:
            context.sessions_checked[pk] = False  # unknown: shown as without a session
    customer = (await info.context.reader.customers_by_id([pk])).get(pk)
    visibility = None if customer is None else await visible(info, customer)
    if visibility is None:
        raise NotFound("customer", customer_id)
    return visibility
