"""Live updates for the agent desktop: `customerActivity` over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.errors import DomainError, NotFound
from schema.access import require, visible
from schema.context import Info
from schema.errors import UserFacingError
from schema.ids import decode_typed_id, encode_id, with_global_ids


@strawberry.type(
    description="Something happened to the customer. Events carry ids and kinds, no personal "
    "data: read the details through the queries (masked and audited as usual)."
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


@strawberry.type
class ActivitySubscriptions:
    @strawberry.subscription(
        description="New interactions, tasks, holding changes and fund movements of one "
        "customer, as they are committed (a rolled-back write is never announced)."
    )
    async def customer_activity(
        self, info: Info, customer_id: strawberry.ID
    ) -> AsyncGenerator[ActivityEvent, None]:
        try:
            require(info, "customerActivity")
            pk = decode_typed_id(customer_id, "Customer", field="customerId")
            customer = await info.context.loaders.customer_by_id.load(pk)
            if customer is None or await visible(info, customer) is None:
                raise NotFound("customer", customer_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        try:
            async for event in info.context.activity.subscribe(pk):
                yield ActivityEvent(
                    sequence=event.id,
                    customer_id=strawberry.ID(encode_id("Customer", pk)),
                    topic=event.topic,
                    occurred_at=event.occurred_at,
                    payload=JSON(with_global_ids(event.payload)),
                )
        except DomainError as exc:  # the feed ended it (the client fell behind): say why
            raise UserFacingError(exc) from exc
