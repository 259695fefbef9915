"""Writes from the channels: interactions, fund movements and the holdings feed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

# The movement enums are declared with the movements they describe.
import schema.fund_movements.types  # noqa: F401
from domain.access.counter_sessions import CounterSessionExpired
from domain.errors import DomainError
from domain.fund_movements import CounterpartyKind, MovementDirection
from domain.idempotency import IdempotencyKeyReused
from domain.interactions import Channel, InteractionKind, InteractionOutcome
from domain.products import HoldingStatus
from domain.recording import (
    HoldingChange,
    Recorded,
)
from schema.core.access import visible
from schema.core.context import Info
from schema.core.errors import Error, ForbiddenError, InvalidInputError, NotFoundError, error_type
from schema.interactions.types import Interaction
from schema.source_keys.types import SourceKeyInput
from schema.tasks.types import Task
from schema.tasks.types import shown as shown_tasks


@strawberry.type(description="This idempotency key was already used for a different request.")
class IdempotencyKeyReusedError(Error):
    pass


@strawberry.type(description="The teller's counter session with this customer has expired.")
class CounterSessionExpiredError(Error):
    pass


@strawberry.input(description="What happened with a customer, on any channel.")
class RecordInteractionInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer (or customerSourceKey: exactly one)."
    )
    customer_source_key: SourceKeyInput | None = strawberry.field(
        default=None, description="The customer by its key in a source system (or customerId)."
    )
    channel: Channel = strawberry.field(description="Where it happened.")
    kind: InteractionKind = strawberry.field(description="What it was about.")
    occurred_at: datetime = strawberry.field(description="When (not in the future).")
    branch_id: strawberry.ID | None = strawberry.field(default=None, description="Branch/place.")
    staff_code: str | None = strawberry.field(default=None, description="Who served.")
    cost: Decimal | None = strawberry.field(default=None, description="Cost to serve, CNY, ≥ 0.")
    outcome: InteractionOutcome | None = strawberry.field(default=None, description="Outcome.")
    summary: str | None = strawberry.field(default=None, description="What was said or done.")
    offers: list[str] = strawberry.field(default_factory=list, description="Offers made.")
    products_discussed: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Products discussed (Product ids)."
    )
    satisfaction: int | None = strawberry.field(default=None, description="Rating 1-5.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retry-safe key (required for integrations): the same key and request "
        "replay the first response; the same key with another request is refused.",
    )


@strawberry.type(description="The interaction recorded (or replayed), and any task it opened.")
class RecordInteractionPayload:
    interaction_id: strawberry.ID = strawberry.field(description="The interaction's id.")
    # What was written; the interaction and the task are read back only when selected (most
    # writers ask for the id alone, and a read back costs statements and a read audit).
    recorded: strawberry.Private[Recorded]
    customer_id: strawberry.Private[int]

    @strawberry.field(
        description="The interaction as you may see it; null for callers who read no profiles."
    )
    async def interaction(self, info: Info) -> Interaction | None:
        customer = await info.context.loaders.customer_by_id.load(self.customer_id)
        view = None if customer is None else await visible(info, customer)
        if view is None:
            return None
        found = await info.context.loaders.interaction_by_id.load(self.recorded.interaction_id)
        return None if found is None else Interaction.from_domain(found, view)

    @strawberry.field(
        description="The task a complaint or service request opened; null for callers who "
        "read no profiles."
    )
    async def task(self, info: Info) -> Task | None:
        task_id = self.recorded.task_id
        if task_id is None:
            return None
        found = (await info.context.reader.tasks_by_id([task_id])).get(task_id)
        tasks = [] if found is None else await shown_tasks(info, [found])
        return tasks[0] if tasks else None

    replayed: bool = strawberry.field(description="True when this answers a retried request.")


RecordInteractionResult = Annotated[
    RecordInteractionPayload
    | InvalidInputError
    | NotFoundError
    | ForbiddenError
    | IdempotencyKeyReusedError
    | CounterSessionExpiredError,
    strawberry.union("RecordInteractionResult", description="Recorded, or why not."),
]


@strawberry.input(description="A movement of funds on a holding, from core banking.")
class RecordFundMovementInput:
    holding_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (Holding id), or holdingSourceRef."
    )
    holding_source_ref: str | None = strawberry.field(
        default=None,
        description="The account by the reference its source system gave it in upsertHolding.",
    )
    amount: Decimal = strawberry.field(description="Amount, positive; direction gives the sign.")
    currency: str = strawberry.field(description="ISO 4217; must match the holding.")
    direction: MovementDirection = strawberry.field(description="Credit or debit.")
    counterparty_kind: CounterpartyKind = strawberry.field(description="Who is on the other side.")
    channel: Channel = strawberry.field(description="Where it was initiated.")
    booked_at: datetime = strawberry.field(description="Booking time.")
    external_ref: str = strawberry.field(
        description="The source system's reference: the feed is idempotent on it."
    )


@strawberry.type(description="The movement recorded, or found recorded before.")
class RecordFundMovementPayload:
    movement_id: strawberry.ID = strawberry.field(description="The movement's id.")
    replayed: bool = strawberry.field(description="True when the reference was seen before.")


RecordFundMovementResult = Annotated[
    RecordFundMovementPayload | InvalidInputError | ForbiddenError | IdempotencyKeyReusedError,
    strawberry.union("RecordFundMovementResult", description="Recorded, or why not."),
]


@strawberry.input(description="One record of the holdings feed: open, change or close.")
class UpsertHoldingInput:
    source_ref: str = strawberry.field(description="The source system's id of the holding.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The holder (or customerSourceKey: exactly one)."
    )
    customer_source_key: SourceKeyInput | None = strawberry.field(
        default=None, description="The holder by its key in a source system (or customerId)."
    )
    product_code: str = strawberry.field(description="Catalog product code.")
    account_number: str = strawberry.field(description="Account, card or contract number.")
    currency: str = strawberry.field(description="ISO 4217 currency.")
    balance: Decimal = strawberry.field(description="Balance per core banking.")
    credit_limit: Decimal | None = strawberry.field(default=None, description="Credit limit.")
    status: HoldingStatus = strawberry.field(description="Active, dormant or closed.")
    opened_on: date = strawberry.field(description="Opening date.")
    closed_on: date | None = strawberry.field(default=None, description="Closing date.")


@strawberry.type(description="What the feed record did.")
class UpsertHoldingPayload:
    holding_id: strawberry.ID = strawberry.field(description="The holding's id.")
    change: str = strawberry.field(description="opened, changed, closed or unchanged.")


UpsertHoldingResult = Annotated[
    UpsertHoldingPayload | InvalidInputError | NotFoundError | ForbiddenError,
    strawberry.union("UpsertHoldingResult", description="Applied, or why not."),
]


def _scope(info: Info) -> str:
    principal = info.context.principal
    return f"{principal.role.value}:{principal.client_id or principal.subject}"


def _error(exc: DomainError) -> Error:
    match exc:
        case IdempotencyKeyReused():
            return IdempotencyKeyReusedError(code=exc.code, message=exc.message)
        case CounterSessionExpired():
            return CounterSessionExpiredError(code=exc.code, message=exc.message)
        case _:
            return error_type(exc)


def holding_change(input: UpsertHoldingInput, customer_id: int) -> HoldingChange:
    """The feed record as written, for the domain to check (validate_holding_change)."""
    return HoldingChange(
        source_ref=input.source_ref,
        customer_id=customer_id,
        product_code=input.product_code,
        account_number=input.account_number,
        currency=input.currency,
        balance=input.balance,
        credit_limit=input.credit_limit,
        status=input.status,
        opened_on=input.opened_on,
        closed_on=input.closed_on,
    )
