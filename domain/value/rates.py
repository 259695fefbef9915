"""The rates contribution is computed with, and their documented defaults.

Rates live in data (tables `category_value_rates`, `product_value_rates`, `channel_costs`);
these defaults are what a fresh bank starts with, seeded by the migration and documented in
docs/value.md. A product without its own rate uses its category's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInput
from domain.interactions import Channel
from domain.products import ProductCategory

# Annual margin on the average balance: net interest margin for deposits and loans, the
# management fee the bank keeps for wealth and insurance products.
DEFAULT_MARGINS: Mapping[ProductCategory, Decimal] = {
    ProductCategory.DEPOSIT: Decimal("0.0150"),
    ProductCategory.TIME_DEPOSIT: Decimal("0.0100"),
    ProductCategory.DEBIT_CARD: Decimal("0.0150"),
    ProductCategory.CASH_MANAGEMENT: Decimal("0.0120"),
    ProductCategory.LOAN: Decimal("0.0250"),
    ProductCategory.CREDIT_CARD: Decimal("0.0800"),
    ProductCategory.WEALTH: Decimal("0.0080"),
    ProductCategory.INSURANCE: Decimal("0.0100"),
    ProductCategory.PAYMENT: Decimal("0"),
}

# Monthly cost of keeping one holding open (statements, systems, compliance checks).
DEFAULT_SERVICING_COSTS: Mapping[ProductCategory, Decimal] = {
    ProductCategory.DEPOSIT: Decimal("2.00"),
    ProductCategory.TIME_DEPOSIT: Decimal("1.00"),
    ProductCategory.DEBIT_CARD: Decimal("1.50"),
    ProductCategory.CASH_MANAGEMENT: Decimal("20.00"),
    ProductCategory.LOAN: Decimal("8.00"),
    ProductCategory.CREDIT_CARD: Decimal("5.00"),
    ProductCategory.WEALTH: Decimal("3.00"),
    ProductCategory.INSURANCE: Decimal("2.00"),
    ProductCategory.PAYMENT: Decimal("0.50"),
}

# Cost of one interaction when the recording system sent none.
DEFAULT_CHANNEL_COSTS: Mapping[Channel, Decimal] = {
    Channel.COUNTER: Decimal("25.00"),
    Channel.CALL_CENTER: Decimal("8.00"),
    Channel.RM_VISIT: Decimal("120.00"),
    Channel.SELF_SERVICE: Decimal("2.00"),
    Channel.MOBILE_APP: Decimal("0.20"),
    Channel.WEB_BANKING: Decimal("0.30"),
    Channel.SMS: Decimal("0.05"),
    Channel.EMAIL: Decimal("0.02"),
}

# Where the bank would rather serve a customer whose contacts cost more than they bring.
SELF_SERVICE_CHANNELS = (Channel.MOBILE_APP, Channel.WEB_BANKING, Channel.SELF_SERVICE)

MAX_MARGIN = Decimal("1")  # 100 % a year: anything above is a typo, not a product
MAX_UNIT_COST = Decimal("100000")


@dataclass(frozen=True, slots=True)
class CategoryRate:
    category: ProductCategory
    margin_rate: Decimal
    servicing_cost: Decimal


@dataclass(frozen=True, slots=True)
class ProductRate:
    """A product's own rates; None means "as its category"."""

    product_id: int
    margin_rate: Decimal | None
    servicing_cost: Decimal | None


@dataclass(frozen=True, slots=True)
class ChannelCost:
    channel: Channel
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class RateBook:
    categories: tuple[CategoryRate, ...]
    products: tuple[ProductRate, ...]
    channels: tuple[ChannelCost, ...]


def check_margin(value: Decimal | None, field: str) -> None:
    if value is None:
        return
    if not value.is_finite() or value < -MAX_MARGIN or value > MAX_MARGIN:
        raise InvalidInput(field, "a margin is a yearly fraction between -1 and 1 (0.015 = 1.5 %)")
    if value != value.quantize(Decimal("0.000001")):
        raise InvalidInput(field, "a margin has at most 6 decimals")


def check_cost(value: Decimal | None, field: str) -> None:
    if value is None:
        return
    if not value.is_finite() or value < 0 or value > MAX_UNIT_COST:
        raise InvalidInput(field, f"a cost is between 0 and {MAX_UNIT_COST} CNY")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidInput(field, "a cost has at most 2 decimals")


@dataclass(frozen=True, slots=True)
class RateChange:
    """One edit of the rate book; exactly one target is set."""

    category: ProductCategory | None
    product_id: int | None
    channel: Channel | None
    margin_rate: Decimal | None
    servicing_cost: Decimal | None
    unit_cost: Decimal | None


def rate_change(
    *,
    category: ProductCategory | None,
    product_id: int | None,
    channel: Channel | None,
    margin_rate: Decimal | None,
    servicing_cost: Decimal | None,
    unit_cost: Decimal | None,
) -> RateChange:
    """Check that the figures fit the target: a category needs both of its rates, a channel
    its unit cost; a product may leave either rate to its category."""
    if channel is not None:
        if unit_cost is None:
            raise InvalidInput("input.unitCost", "a channel's unit cost is required")
        if margin_rate is not None or servicing_cost is not None:
            raise InvalidInput("input", "a channel has a unit cost only")
    else:
        if unit_cost is not None:
            raise InvalidInput("input.unitCost", "only a channel has a unit cost")
        if category is not None and (margin_rate is None or servicing_cost is None):
            raise InvalidInput("input", "a category needs marginRate and servicingCost")
    return RateChange(category, product_id, channel, margin_rate, servicing_cost, unit_cost)
