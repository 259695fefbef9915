"""A customer's fund movements (资金流动) as GraphQL: the statement a desk or the app reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.access.policy import Visibility
from domain.errors import DomainError
from domain.fund_movements import (
    CounterpartyKind,
    MovementDirection,
    MovementFilter,
    validate_movement_filter,
)
from domain.fund_movements import FundMovement as FundMovementModel
from domain.ids import decode_typed_id, encode_id
from domain.interactions import Channel
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import Edge, PageInfo, check_first, decode_id_cursor, edges, split_page

strawberry.enum(MovementDirection, description="Money in (credit) or out (debit).")


strawberry.enum(CounterpartyKind, description="Who is on the other side of a movement.")


@strawberry.type(description="Money in or out of one of the customer's holdings.")
class FundMovement:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the movement.")
    holding_id: strawberry.ID = strawberry.field(description="The holding it was booked on.")
    amount: Decimal | None = strawberry.field(
        description="The amount (positive; `direction` gives the sign); null where the "
        "caller may not see the customer's figures."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    direction: MovementDirection | None = strawberry.field(
        description="Credit (in) or debit (out); null where the figures are not shown."
    )
    counterparty_kind: CounterpartyKind | None = strawberry.field(
        description="Who is on the other side; null where the figures are not shown."
    )
    channel: Channel = strawberry.field(description="Where it was made.")
    booked_at: datetime = strawberry.field(description="When core banking booked it.")
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, movement: FundMovementModel, view: Visibility) -> FundMovement:
        shows = view.shows
        return cls(
            id=strawberry.ID(encode_id("FundMovement", movement.id)),
            holding_id=strawberry.ID(encode_id("Holding", movement.holding_id)),
            amount=movement.amount if shows("FundMovement", "amount") else None,
            currency=movement.currency,
            direction=movement.direction if shows("FundMovement", "direction") else None,
            counterparty_kind=movement.counterparty_kind
            if shows("FundMovement", "counterpartyKind")
            else None,
            channel=movement.channel,
            booked_at=movement.booked_at,
            pk=movement.id,
        )


@strawberry.type(description="A page of fund movements, newest booked first.")
class FundMovementConnection:
    edges: list[Edge[FundMovement]] = strawberry.field(description="This page, with cursors.")
    nodes: list[FundMovement] = strawberry.field(description="Movements on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.input(description="Which movements to list; every field narrows the list.")
class FundMovementFilterInput:
    since: datetime | None = strawberry.field(default=None, description="Booked at or after.")
    until: datetime | None = strawberry.field(default=None, description="Booked before.")
    direction: MovementDirection | None = strawberry.field(
        default=None, description="Only money in (CREDIT) or out (DEBIT)."
    )
    min_amount: Decimal | None = strawberry.field(default=None, description="At least this.")
    max_amount: Decimal | None = strawberry.field(default=None, description="At most this.")
    holding_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only those booked on this holding."
    )


def _filter(wanted: FundMovementFilterInput | None) -> MovementFilter:
    if wanted is None:
        return MovementFilter()
    return validate_movement_filter(
        MovementFilter(
            since=wanted.since,
            until=wanted.until,
            direction=wanted.direction,
            min_amount=wanted.min_amount,
            max_amount=wanted.max_amount,
            holding_id=None
            if wanted.holding_id is None
            else decode_typed_id(wanted.holding_id, "Holding", field="filter.holdingId"),
        )
    )


async def movements_page(
    info: Info,
    customer_id: int,
    view: Visibility,
    first: int,
    wanted: FundMovementFilterInput | None,
    after: str | None,
) -> FundMovementConnection:
    """A page of the customer's statement as the caller may see it. The customer was already
    let through the row rule; its figures follow the field policy and the read audit."""
    try:
        check_first(first)
        after_id = decode_id_cursor(after)
        where = _filter(wanted)
    except DomainError as exc:
        raise UserFacingError(exc) from exc
    found = await info.context.reader.fund_movements(customer_id, where, first + 1, after_id)
    page, page_info = split_page(found, first, lambda m: m.id)
    nodes = [FundMovement.from_domain(m, view) for m in page]
    return FundMovementConnection(
        edges=edges(nodes, lambda m: m.pk), nodes=nodes, page_info=page_info
    )
