"""Fund movements (资金流动) from core banking: the feed event detection watches.

Balances are not derived from movements here: core banking is the ledger, and holding
balances arrive through the holdings feed (`upsertHolding`). A movement is an event about a
holding, recorded once per external reference.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput
from domain.interactions import EARLIEST_OCCURRED_AT, Channel

_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("1e15")


class MovementDirection(enum.StrEnum):
    CREDIT = "credit"  # money in
    DEBIT = "debit"  # money out


class CounterpartyKind(enum.StrEnum):
    OWN_ACCOUNT = "own_account"
    PERSON = "person"
    COMPANY = "company"
    OTHER_BANK = "other_bank"
    MERCHANT = "merchant"
    GOVERNMENT = "government"
    CASH = "cash"
    BANK_FEE = "bank_fee"  # a fee the bank charged: fee revenue in the customer's contribution


@dataclass(frozen=True, slots=True)
class NewFundMovement:
    holding_id: int
    amount: Decimal
    currency: str
    direction: MovementDirection
    counterparty_kind: CounterpartyKind
    channel: Channel
    booked_at: datetime
    external_ref: str


def validate_fund_movement(
    movement: NewFundMovement, now: datetime, skew: timedelta
) -> NewFundMovement:
    try:
        amount = Decimal(movement.amount)
    except InvalidOperation as exc:
        raise InvalidInput("amount", "the amount is not a number") from exc
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput("amount", "the amount must be positive; the direction gives the sign")
    if amount >= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput("amount", "the amount must have at most 2 decimals and 15 digits")
    if not _CURRENCY.fullmatch(movement.currency):
        raise InvalidInput("currency", "the currency is an ISO 4217 code such as CNY")
    if movement.booked_at.tzinfo is None:
        raise InvalidInput("bookedAt", "the booking time needs a time zone")
    if movement.booked_at > now + skew:
        raise InvalidInput("bookedAt", "the booking time is in the future")
    if movement.booked_at < EARLIEST_OCCURRED_AT:
        raise InvalidInput("bookedAt", "the time is before 1970: a zero date sent for none?")
    ref = movement.external_ref.strip()
    if not ref or len(ref) > 100:
        raise InvalidInput("externalRef", "the external reference is 1 to 100 characters")
    return NewFundMovement(
        movement.holding_id,
        amount,
        movement.currency,
        movement.direction,
        movement.counterparty_kind,
        movement.channel,
        movement.booked_at,
        ref,
    )


@dataclass(frozen=True, slots=True)
class FundMovement:
    """A recorded movement, as the customer's statement shows it."""

    id: int
    customer_id: int
    holding_id: int
    amount: Decimal
    currency: str
    direction: MovementDirection
    counterparty_kind: CounterpartyKind
    channel: Channel
    booked_at: datetime


@dataclass(frozen=True, slots=True)
class MovementFilter:
    """Which of a customer's movements to list; every field narrows the list."""

    since: datetime | None = None  # booked at or after
    until: datetime | None = None  # booked before
    direction: MovementDirection | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    holding_id: int | None = None


def validate_movement_filter(wanted: MovementFilter) -> MovementFilter:
    """The filter, or InvalidInput naming the argument that can match nothing sane."""
    for name, moment in (("since", wanted.since), ("until", wanted.until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"filter.{name}", "the time needs a time zone")
    if wanted.since is not None and wanted.until is not None and wanted.until <= wanted.since:
        raise InvalidInput("filter.until", "until must be after since")
    for name, amount in (("minAmount", wanted.min_amount), ("maxAmount", wanted.max_amount)):
        if amount is not None and (not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT):
            raise InvalidInput(f"filter.{name}", "an amount from 0 below 10^15")
    if (
        wanted.min_amount is not None
        and wanted.max_amount is not None
        and wanted.max_amount < wanted.min_amount
    ):
        raise InvalidInput("filter.maxAmount", "maxAmount must not be below minAmount")
    return wanted
