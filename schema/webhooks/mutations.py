"""Webhook subscriptions: create, update, retry a delivery (admins)."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError, NotFound
from domain.ids import decode_typed_id
from domain.webhooks import (
    check_receiver,
    new_secret,
    validate_description,
    validate_event_types,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    NotFoundError,
    error_type,
)
from schema.webhooks.types import (
    CreatedWebhookSubscription,
    CreateWebhookSubscriptionInput,
    CreateWebhookSubscriptionResult,
    UpdateWebhookSubscriptionInput,
    WebhookDelivery,
    WebhookDeliveryResult,
    WebhookSubscription,
    WebhookSubscriptionResult,
)


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
