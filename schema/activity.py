"""Live updates for the agent desktop: `customerActivity` over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.access.policy import FIELD_POLICIES, Visibility
from domain.access.principal import Role
from domain.errors import DomainError, NotFound
from domain.ids import decode_typed_id, encode_id, with_global_ids
from schema.core.access import require, visible
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.read_audit import AuditUnavailable, write_read_audit


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
        context.sessions_checked[pk] = await context.counter_sessions.is_open(
            context.principal.subject, pk
        )
    customer = (await info.context.reader.customers_by_id([pk])).get(pk)
    visibility = None if customer is None else await visible(info, customer)
    if visibility is None:
        raise NotFound("customer", customer_id)
    return visibility


@strawberry.type
class ActivitySubscriptions:
    @strawberry.subscription(
        description="New interactions, tasks, holding changes and fund movements of one "
        "customer, as they are committed (a rolled-back write is never announced). Audited "
        "when it starts and with every event; a fund movement's amount and direction follow "
        "the field policies. The connection closes (4401) when the token expires."
    )
    async def customer_activity(
        self, info: Info, customer_id: strawberry.ID
    ) -> AsyncGenerator[ActivityEvent, None]:
        context = info.context
        try:
            require(info, "customerActivity")
            pk = decode_typed_id(customer_id, "Customer", field="customerId")
            await _visible_now(info, pk, customer_id)
        except DomainError as exc:
            await write_read_audit(context, returned=False)  # a refused follow, if one
            raise UserFacingError(exc) from exc
        # Who followed whom, before any event: an audit record of its own.
        if not await write_read_audit(context, returned=False, outcome="subscribed"):
            raise UserFacingError(AuditUnavailable(context.correlation_id))
        context.audit.reset()
        holder = f"{context.principal.role}:{context.principal.subject}"
        try:
            async for event in context.activity.subscribe(pk, holder):
                visibility = await _visible_now(info, pk, customer_id)
                payload = visibility.json("ActivityEvent", "payload", event.payload)
                context.audit.shown.update(
                    ("ActivityEvent", f"payload.{key}")
                    for key in payload
                    if f"payload.{key}" in FIELD_POLICIES["ActivityEvent"]
                )
                yield ActivityEvent(
                    sequence=event.id,
                    customer_id=strawberry.ID(encode_id("Customer", pk)),
                    topic=event.topic,
                    occurred_at=event.occurred_at,
                    payload=JSON(with_global_ids(payload)),
                )
        except DomainError as exc:  # the feed ended it (the client fell behind): say why
            raise UserFacingError(exc) from exc
