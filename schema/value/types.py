"""Customer value in GraphQL: contribution, tier and the lines behind them; the rate book."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from domain.errors import InvalidInput
from domain.ids import decode_typed_id, encode_id
from domain.interactions import Channel
from domain.products import ProductCategory
from domain.value import rates as value_rates
from domain.value.contribution import ChannelLine, ProductLine, format_period, parse_period
from domain.value.contribution import CustomerValue as CustomerValueModel
from domain.value.offers import Offer
from domain.value.tiers import TierRule, Trend, ValueTier, classify
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from schema.products.types import Product, load_product


@strawberry.type(description="One rule that placed the customer in the tier, with its figures.")
class ValueReason:
    rule: TierRule = strawberry.field(description="Which tier rule applied.")
    message: str = strawberry.field(description="The rule and the numbers it compared.")


@strawberry.type(description="What one product brought and cost in the month.")
class ProductContribution:
    holdings: int = strawberry.field(description="Holdings of the product open in the month.")
    average_balance: Decimal = strawberry.field(
        description="Time-weighted average balance over the month, CNY (owed, for credit)."
    )
    margin_rate: Decimal = strawberry.field(description="Yearly margin applied (0.015 = 1.5 %).")
    margin_revenue: Decimal = strawberry.field(description="Average balance × margin ÷ 12, CNY.")
    fee_revenue: Decimal = strawberry.field(description="Fees booked on its holdings, CNY.")
    servicing_cost: Decimal = strawberry.field(description="Monthly servicing cost, CNY.")
    product_pk: strawberry.Private[int]

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_pk)

    @classmethod
    def from_domain(cls, line: ProductLine) -> ProductContribution:
        return cls(
            holdings=line.holdings,
            average_balance=line.average_balance,
            margin_rate=line.margin_rate,
            margin_revenue=line.margin_revenue,
            fee_revenue=line.fee_revenue,
            servicing_cost=line.servicing_cost,
            product_pk=line.product_id,
        )


@strawberry.type(description="What serving the customer through one channel cost in the month.")
class ChannelContribution:
    channel: Channel = strawberry.field(description="The channel.")
    interactions: int = strawberry.field(description="Interactions in the month.")
    recorded_cost: Decimal = strawberry.field(
        description="Sum of the costs the recording systems sent, CNY."
    )
    defaulted: int = strawberry.field(
        description="Interactions without a recorded cost, charged at the channel's unit cost."
    )
    unit_cost: Decimal = strawberry.field(description="The channel's default cost, CNY.")
    cost: Decimal = strawberry.field(description="Recorded + defaulted × unit cost, CNY.")

    @classmethod
    def from_domain(cls, line: ChannelLine) -> ChannelContribution:
        return cls(
            channel=line.channel,
            interactions=line.interactions,
            recorded_cost=line.recorded_cost,
            defaulted=line.defaulted,
            unit_cost=line.unit_cost,
            cost=line.cost,
        )


@strawberry.type(
    description="A customer's contribution (客户贡献度) for one month: revenue − cost, the "
    "value tier and why, and the products and channels it is made of."
)
class CustomerValue:
    period: str = strawberry.field(description="The month, YYYY-MM.")
    revenue: Decimal = strawberry.field(description="Margin revenue + fee revenue, CNY.")
    cost: Decimal = strawberry.field(description="Interaction cost + servicing cost, CNY.")
    contribution: Decimal = strawberry.field(description="Revenue − cost, CNY.")
    margin_revenue: Decimal = strawberry.field(description="Margins on average balances, CNY.")
    fee_revenue: Decimal = strawberry.field(description="Fees booked, CNY.")
    interaction_cost: Decimal = strawberry.field(description="Cost of every contact, CNY.")
    servicing_cost: Decimal = strawberry.field(description="Cost of keeping holdings, CNY.")
    tier: ValueTier = strawberry.field(description="The value tier.")
    trend: Trend = strawberry.field(description="Compared with the month before.")
    previous_contribution: Decimal | None = strawberry.field(
        description="The month before's contribution, CNY, if it was scored."
    )
    scored_at: str = strawberry.field(description="When these figures were computed (ISO 8601).")
    model: strawberry.Private[CustomerValueModel]

    @strawberry.field(description="Which rule placed the customer in the tier, with the numbers.")
    async def reasons(self, info: Info) -> list[ValueReason]:
        cutoff = await info.context.loaders.value_cutoff_by_period.load(self.model.period)
        if cutoff is None:
            return []
        _, reasons = classify(self.model.facts, cutoff)
        return [ValueReason(rule=r.rule, message=r.message) for r in reasons]

    @strawberry.field(description="Revenue and servicing cost per product held.")
    async def products(self, info: Info) -> list[ProductContribution]:
        lines = await info.context.values.product_lines(self.model.customer_id, self.model.period)
        return [ProductContribution.from_domain(line) for line in lines]

    @strawberry.field(description="Interaction cost per channel.")
    async def channels(self, info: Info) -> list[ChannelContribution]:
        lines = await info.context.values.channel_lines(self.model.customer_id, self.model.period)
        return [ChannelContribution.from_domain(line) for line in lines]

    @classmethod
    def from_domain(cls, value: CustomerValueModel) -> CustomerValue:
        return cls(
            period=format_period(value.period),
            revenue=value.revenue,
            cost=value.cost,
            contribution=value.contribution,
            margin_revenue=value.margin_revenue,
            fee_revenue=value.fee_revenue,
            interaction_cost=value.interaction_cost,
            servicing_cost=value.servicing_cost,
            tier=value.tier,
            trend=value.trend,
            previous_contribution=value.previous,
            scored_at=value.scored_at.isoformat(),
            model=value,
        )


@strawberry.type(description="A product to offer, and why.")
class ProductOffer:
    peer_share: Decimal = strawberry.field(description="Share of peers holding it (0–1).")
    reason: str = strawberry.field(description="Who the peers are and how many hold it.")
    product_pk: strawberry.Private[int]

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_pk)

    @classmethod
    def from_domain(cls, offer: Offer) -> ProductOffer:
        return cls(peer_share=offer.peer_share, reason=offer.reason, product_pk=offer.product_id)


async def load_value(info: Info, customer_id: int, period: str | None) -> CustomerValue | None:
    month: date | None = None if period is None else parse_period(period)
    found = await info.context.loaders.value_by_customer.load((customer_id, month))
    return None if found is None else CustomerValue.from_domain(found)


@strawberry.type(description="A product category's yearly margin and monthly servicing cost.")
class CategoryRate:
    category: ProductCategory = strawberry.field(description="The category.")
    margin_rate: Decimal = strawberry.field(description="Yearly margin (0.015 = 1.5 %).")
    servicing_cost: Decimal = strawberry.field(description="Monthly cost per holding, CNY.")


@strawberry.type(description="A product's own rates; null means as its category.")
class ProductRate:
    product_id: strawberry.ID = strawberry.field(description="The product.")
    margin_rate: Decimal | None = strawberry.field(description="Yearly margin, or null.")
    servicing_cost: Decimal | None = strawberry.field(description="Monthly cost, or null.")


@strawberry.type(description="A channel's cost per interaction when none was recorded.")
class ChannelCost:
    channel: Channel = strawberry.field(description="The channel.")
    unit_cost: Decimal = strawberry.field(description="Cost of one interaction, CNY.")


@strawberry.type(description="The rates contribution is computed with (next scoring on).")
class ValueRates:
    categories: list[CategoryRate] = strawberry.field(description="Per product category.")
    products: list[ProductRate] = strawberry.field(description="Per-product overrides.")
    channels: list[ChannelCost] = strawberry.field(description="Per channel.")

    @classmethod
    def from_domain(cls, book: value_rates.RateBook) -> ValueRates:
        return cls(
            categories=[
                CategoryRate(
                    category=c.category, margin_rate=c.margin_rate, servicing_cost=c.servicing_cost
                )
                for c in book.categories
            ],
            products=[
                ProductRate(
                    product_id=strawberry.ID(encode_id("Product", p.product_id)),
                    margin_rate=p.margin_rate,
                    servicing_cost=p.servicing_cost,
                )
                for p in book.products
            ],
            channels=[ChannelCost(channel=c.channel, unit_cost=c.unit_cost) for c in book.channels],
        )


@strawberry.input(
    description="Set one rate: exactly one of category, productId or channel says which."
)
class ValueRateInput:
    category: ProductCategory | None = strawberry.field(
        default=None, description="A category: marginRate and servicingCost are required."
    )
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="A product's override: a null rate falls back to the category."
    )
    channel: Channel | None = strawberry.field(
        default=None, description="A channel: unitCost is required."
    )
    margin_rate: Decimal | None = strawberry.field(default=None, description="Yearly margin.")
    servicing_cost: Decimal | None = strawberry.field(
        default=None, description="Monthly servicing cost per holding, CNY."
    )
    unit_cost: Decimal | None = strawberry.field(
        default=None, description="Cost of one interaction, CNY."
    )


SetValueRateResult = Annotated[
    ValueRates | InvalidInputError | NotFoundError | ForbiddenError,
    strawberry.union(
        "SetValueRateResult", description="The rate book after the change, or why not."
    ),
]


def _rate_change(given: ValueRateInput) -> value_rates.RateChange:
    targets = [x for x in (given.category, given.product_id, given.channel) if x is not None]
    if len(targets) != 1:
        raise InvalidInput("input", "name exactly one of category, productId or channel")
    value_rates.check_margin(given.margin_rate, "input.marginRate")
    value_rates.check_cost(given.servicing_cost, "input.servicingCost")
    value_rates.check_cost(given.unit_cost, "input.unitCost")
    product_id = (
        None
        if given.product_id is None
        else decode_typed_id(given.product_id, "Product", field="input.productId")
    )
    return value_rates.rate_change(
        category=given.category,
        product_id=product_id,
        channel=given.channel,
        margin_rate=given.margin_rate,
        servicing_cost=given.servicing_cost,
        unit_cost=given.unit_cost,
    )
