"""webhookSubscriptions, webhookEventTypes (admins)."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from domain.webhooks import (
    EVENT_TYPES,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.webhooks.types import WebhookSubscription


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Every webhook subscription (admin).")
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        try:
            require(info, "webhookSubscriptions")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return [
            WebhookSubscription.from_domain(s) for s in await info.context.webhooks.subscriptions()
        ]

    @strawberry.field(description="The event types a subscription may name (admin).")
    def webhook_event_types(self, info: Info) -> list[str]:
        try:
            require(info, "webhookEventTypes")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return sorted(EVENT_TYPES)
