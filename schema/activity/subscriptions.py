"""customerActivity: a customer's committed changes, live over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.access.policy import FIELD_POLICIES
from domain.access.principal import Role
from domain.errors import DomainError
from domain.ids import decode_typed_id, encode_id, with_global_ids
from schema.activity.types import ActivityEvent, _visible_now
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.read_audit import AuditUnavailable, write_read_audit


@strawberry.type
class ActivitySubscriptions:
    @strawberry.subscription(
        description="New interactions, tasks, holding changes and fund movements of one "
        "customer, as they are committed (a rolled-back write is never announced). Audited "
        "when it starts and with every event; a fund movement's amount and direction follow "
        "the field policies. A customer may follow only their own, and is told of their "
        "interactions, holdings and movements only. The connection closes (4401) when the "
        "token expires."
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
        holder = context.principal.caller
        own = context.principal.role is Role.CUSTOMER
        try:
            async for event in context.activity.subscribe(pk, holder):
                if own and event.topic not in CUSTOMER_TOPICS:
                    continue  # the bank's own work about them (tasks, alerts, the ladder)
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
                    payload=JSON(as_graphql_enums(with_global_ids(payload))),
                )
        except DomainError as exc:  # the feed ended it (the client fell behind): say why
            raise UserFacingError(exc) from exc


# What a customer following their own activity is told of: their own doings and their
# accounts'. Tasks, alerts and relationship-state changes are the bank's work about them.
CUSTOMER_TOPICS = frozenset(
    {
        "interaction.recorded",
        "holding.opened",
        "holding.changed",
        "holding.closed",
        "fund_movement.recorded",
    }
)


# Payload keys whose values are domain enums: written the way every GraphQL enum is (issue 23:
# `call_center` here, `CALL_CENTER` everywhere else in the schema).
ENUM_KEYS = frozenset({"channel", "kind", "direction", "status", "outcome", "severity", "rule"})


def as_graphql_enums(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.upper() if key in ENUM_KEYS and isinstance(value, str) else value
        for key, value in payload.items()
    }
