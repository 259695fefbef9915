"""Webhook subscriptions in GraphQL (admin): manage them, and read every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.errors import DomainError, NotFound
from domain.ids import decode_typed_id, encode_id
from domain.webhooks import (
    EVENT_TYPES,
    DeliveryStatus,
    check_receiver,
    new_secret,
    validate_description,
    validate_event_types,
)
from domain.webhooks import Attempt as AttemptModel
from domain.webhooks import Delivery as DeliveryModel
from domain.webhooks import Subscription as SubscriptionModel
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UserFacingError,
    error_type,
)
from schema.core.pagination import PageInfo, check_first, decode_id_cursor, split_page

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
        return WebhookDeliveryConnection(
            nodes=[WebhookDelivery.from_domain(d) for d in page], page_info=page_info
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


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Subscribe a receiver to event types; answers the signing secret once."
    )
    async def create_webhook_subscription(
        self, info: Info, input: CreateWebhookSubscriptionInput
    ) -> CreateWebhookSubscriptionResult:
        try:
            require(info, "createWebhookSubscription")
            types = validate_event_types(input.event_types)
            description = validate_description(input.description)
            url = await check_receiver(input.url, info.context.webhook_receivers)
        except DomainError as exc:
            found = error_type(exc)
            assert not isinstance(found, NotFoundError)
            return found
        secret = new_secret()
        created = await info.context.webhooks.create(
            url, types, description, secret, info.context.principal.subject
        )
        return CreatedWebhookSubscription(
            subscription=WebhookSubscription.from_domain(created), secret=secret
        )

    @strawberry.mutation(description="Change a subscription's URL or event types, or pause it.")
    async def update_webhook_subscription(
        self, info: Info, input: UpdateWebhookSubscriptionInput
    ) -> WebhookSubscriptionResult:
        try:
            require(info, "updateWebhookSubscription")
            pk = decode_typed_id(input.id, "WebhookSubscription")
            url = (
                None
                if input.url is None
                else await check_receiver(input.url, info.context.webhook_receivers)
            )
            types = None if input.event_types is None else validate_event_types(input.event_types)
            updated = await info.context.webhooks.update(pk, url, types, input.active)
            if updated is None:
                raise NotFound("webhook subscription", input.id)
        except DomainError as exc:
            return error_type(exc)
        return WebhookSubscription.from_domain(updated)

    @strawberry.mutation(
        description="Send a dead (or pending) delivery again now, with a fresh attempt budget."
    )
    async def retry_webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDeliveryResult:
        try:
            require(info, "retryWebhookDelivery")
            pk = decode_typed_id(id, "WebhookDelivery")
            retried = await info.context.webhooks.retry(pk)
            if retried is None:
                raise NotFound("undelivered webhook delivery", id)
        except DomainError as exc:
            return error_type(exc)
        return WebhookDelivery.from_domain(retried)
