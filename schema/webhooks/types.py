"""Webhook subscriptions in GraphQL (admin): manage them, and read every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.ids import encode_id
from domain.webhooks import Attempt as AttemptModel
from domain.webhooks import Delivery as DeliveryModel
from domain.webhooks import (
    DeliveryStatus,
)
from domain.webhooks import Subscription as SubscriptionModel
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UserFacingError,
)
from schema.core.pagination import Edge, PageInfo, check_first, decode_id_cursor, edges, split_page

strawberry.enum(DeliveryStatus, description="Where a webhook delivery stands.")


@strawberry.type(description="One attempt to deliver an event: what the receiver answered.")
class WebhookAttempt:
    attempted_at: datetime = strawberry.field(description="When it was sent.")
    status_code: int | None = strawberry.field(
        description="The receiver's HTTP status; null when no answer came."
    )
    error: str | None = strawberry.field(description="Why it failed; null on success.")
    duration_ms: int = strawberry.field(description="How long the receiver took.")

    @classmethod
    def from_domain(cls, attempt: AttemptModel) -> WebhookAttempt:
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )


@strawberry.type(description="One event for one subscription, attempted until delivered.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the delivery.")
    event_id: str = strawberry.field(
        description="The webhook-id header: the same on every attempt, for receivers to "
        "drop repeats."
    )
    event_type: str = strawberry.field(description="The event type, e.g. alert.opened.")
    status: DeliveryStatus = strawberry.field(description="Pending, delivered or dead.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due, while pending."
    )
    delivered_at: datetime | None = strawberry.field(description="When the receiver took it.")
    last_error: str | None = strawberry.field(description="The last failure.")
    created_at: datetime = strawberry.field(description="When the event was fanned out.")
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, delivery: DeliveryModel) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(encode_id("WebhookDelivery", delivery.id)),
            event_id=f"evt_{delivery.event_id}",
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            pk=delivery.id,
        )

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempt_log(self, info: Info) -> list[WebhookAttempt]:
        found = await info.context.loaders.webhook_attempts_by_delivery.load(self.pk)
        return [WebhookAttempt.from_domain(a) for a in found]


@strawberry.type(description="A page of deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[Edge[WebhookDelivery]] = strawberry.field(description="This page, with cursors.")
    nodes: list[WebhookDelivery] = strawberry.field(description="Deliveries on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="Where events of the chosen types are sent, signed.")
class WebhookSubscription:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the subscription.")
    url: str = strawberry.field(description="The receiver's URL.")
    event_types: list[str] = strawberry.field(description="The event types sent there.")
    active: bool = strawberry.field(description="Paused subscriptions keep their deliveries.")
    description: str | None = strawberry.field(description="What the receiver is.")
    created_by: str = strawberry.field(description="Who created it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, subscription: SubscriptionModel) -> WebhookSubscription:
        return cls(
            id=strawberry.ID(encode_id("WebhookSubscription", subscription.id)),
            url=subscription.url,
            event_types=sorted(subscription.event_types),
            active=subscription.active,
            description=subscription.description,
            created_by=subscription.created_by,
            created_at=subscription.created_at,
            pk=subscription.id,
        )

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: int,
        status: DeliveryStatus | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        try:
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.webhooks.deliveries(self.pk, status, first + 1, after_id)
        page, page_info = split_page(found, first, lambda x: x.id)
        nodes = [WebhookDelivery.from_domain(d) for d in page]
        return WebhookDeliveryConnection(
            edges=edges(nodes, lambda d: d.pk), nodes=nodes, page_info=page_info
        )


@strawberry.type(description="A new subscription and its signing secret, shown only this once.")
class CreatedWebhookSubscription:
    subscription: WebhookSubscription = strawberry.field(description="The subscription.")
    secret: str = strawberry.field(
        description="The Standard Webhooks signing secret (whsec_…): store it with the "
        "receiver; it is not shown again."
    )


@strawberry.input(description="Where to send which events.")
class CreateWebhookSubscriptionInput:
    url: str = strawberry.field(description="The receiver's URL (https in production).")
    event_types: list[str] = strawberry.field(description="Event types, e.g. alert.opened.")
    description: str | None = strawberry.field(default=None, description="What the receiver is.")


@strawberry.input(description="Change a subscription; fields left out keep their value.")
class UpdateWebhookSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription.")
    url: str | None = strawberry.field(default=None, description="A new URL.")
    event_types: list[str] | None = strawberry.field(default=None, description="New event types.")
    active: bool | None = strawberry.field(default=None, description="Pause or resume.")


CreateWebhookSubscriptionResult = Annotated[
    CreatedWebhookSubscription | InvalidInputError | ForbiddenError,
    strawberry.union(
        "CreateWebhookSubscriptionResult", description="The subscription, or why not."
    ),
]


WebhookSubscriptionResult = Annotated[
    WebhookSubscription | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("WebhookSubscriptionResult", description="The subscription, or why not."),
]


WebhookDeliveryResult = Annotated[
    WebhookDelivery | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("WebhookDeliveryResult", description="The delivery, or why not."),
]
