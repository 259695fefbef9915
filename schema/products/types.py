"""Products and holdings as GraphQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from domain.access.policy import Visibility
from domain.ids import encode_id
from domain.products import CurrencyTotals as CurrencyTotalsModel
from domain.products import Holding as HoldingModel
from domain.products import HoldingsSummary, HoldingStatus, ProductAudience, ProductCategory
from domain.products import Product as ProductModel
from domain.reference_data import ProductVariant as ProductVariantModel
from schema.core.context import Info
from schema.core.node import Node


@strawberry.type(description="A product in the bank's catalog.")
class Product(Node):
    code: str = strawberry.field(description="Product code.")
    name: str = strawberry.field(description="Product name as shown to customers.")
    category: ProductCategory = strawberry.field(description="Product family.")
    audience: ProductAudience = strawberry.field(description="Personal, corporate or both.")
    currency: str = strawberry.field(description="Default ISO 4217 currency.")
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, product: ProductModel) -> Product:
        return cls(
            id=strawberry.ID(encode_id("Product", product.id)),
            code=product.code,
            name=product.name,
            category=product.category,
            audience=product.audience,
            currency=product.currency,
            pk=product.id,
        )

    @strawberry.field(
        description="When the product was retired: offered no more, kept for the holdings it has."
    )
    async def retired_at(self, info: Info) -> datetime | None:
        found = await info.context.loaders.product_by_id.load(self.pk)
        return None if found is None else found.retired_at

    @strawberry.field(
        description="Its variants, each with its own term, rate, fees and dates; those in "
        "effect on `effectiveOn` only, when given."
    )
    async def variants(self, info: Info, effective_on: date | None = None) -> list[ProductVariant]:
        found = await info.context.loaders.variants_by_product.load(self.pk)
        return [
            ProductVariant.from_domain(v)
            for v in found
            if effective_on is None or v.effective_on(effective_on)
        ]


@strawberry.type(description="A variant of a product with its own terms (期限、条件和利率).")
class ProductVariant:
    id: strawberry.ID = strawberry.field(description="The variant's id.")
    code: str = strawberry.field(description="Its code within the product.")
    name: str = strawberry.field(description="Its name.")
    term_months: int | None = strawberry.field(description="Term in months, where it has one.")
    interest_rate: Decimal | None = strawberry.field(description="Rate, percent a year.")
    currency: str = strawberry.field(description="ISO 4217.")
    fee: Decimal | None = strawberry.field(description="Its fee, in its currency.")
    fee_note: str | None = strawberry.field(description="What the fee is for, how it is charged.")
    effective_from: date = strawberry.field(description="First day it is offered.")
    effective_to: date | None = strawberry.field(description="Last day it is offered, if set.")

    @classmethod
    def from_domain(cls, v: ProductVariantModel) -> ProductVariant:
        return cls(
            id=strawberry.ID(encode_id("ProductVariant", v.id)),
            code=v.code,
            name=v.name,
            term_months=v.term_months,
            interest_rate=v.interest_rate,
            currency=v.currency,
            fee=v.fee,
            fee_note=v.fee_note,
            effective_from=v.effective_from,
            effective_to=v.effective_to,
        )


async def load_product(info: Info, pk: int) -> Product | None:
    """A product through the request's loader; None when there is no such product."""
    found = await info.context.loaders.product_by_id.load(pk)
    return None if found is None else Product.from_domain(found)


@strawberry.type(description="One product held by the customer: an account, card, loan, policy.")
class Holding:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the holding.")
    product: Product = strawberry.field(description="The product held.")
    account_number: str | None = strawberry.field(
        description="Account, card or contract number; masked to the last 4 or null by role."
    )
    currency: str = strawberry.field(description="ISO 4217 currency of the balance.")
    balance: Decimal = strawberry.field(
        description="Balance: deposited or invested amount, or amount owed for loans and cards."
    )
    credit_limit: Decimal | None = strawberry.field(description="Credit limit, where one applies.")
    status: HoldingStatus = strawberry.field(description="Active, dormant or closed.")
    opened_on: date = strawberry.field(description="Date the holding was opened.")
    closed_on: date | None = strawberry.field(description="Date it was closed, if it was.")

    @classmethod
    def from_domain(cls, holding: HoldingModel, view: Visibility) -> Holding:
        return cls(
            id=strawberry.ID(encode_id("Holding", holding.id)),
            product=Product.from_domain(holding.product),
            account_number=view.apply("Holding", "accountNumber", holding.account_number),
            currency=holding.currency,
            balance=holding.balance,
            credit_limit=holding.credit_limit,
            status=holding.status,
            opened_on=holding.opened_on,
            closed_on=holding.closed_on,
        )


@strawberry.type(description="Totals over open holdings in one currency (no FX conversion).")
class CurrencyTotals:
    currency: str = strawberry.field(description="ISO 4217 currency.")
    deposits: Decimal = strawberry.field(
        description="Demand and time deposits, debit-card and cash-management balances."
    )
    loans: Decimal = strawberry.field(description="Loan and credit-card amounts owed.")
    assets_under_management: Decimal = strawberry.field(
        description="Deposits plus wealth and insurance holdings."
    )

    @classmethod
    def from_domain(cls, totals: CurrencyTotalsModel) -> CurrencyTotals:
        return cls(
            currency=totals.currency,
            deposits=totals.deposits,
            loans=totals.loans,
            assets_under_management=totals.assets_under_management,
        )


@strawberry.type(description="What the customer holds, with totals; product spread is first-class.")
class HoldingPortfolio:
    items: list[Holding] = strawberry.field(description="Holdings, open ones first.")
    totals: list[CurrencyTotals] = strawberry.field(description="Totals per currency.")
    product_count: int = strawberry.field(description="Distinct products held (open holdings).")
    categories_held: list[ProductCategory] = strawberry.field(
        description="Distinct product categories held (open holdings)."
    )

    @classmethod
    def build(
        cls,
        holdings: list[HoldingModel],
        summary: HoldingsSummary,
        view: Visibility,
        *,
        include_closed: bool,
    ) -> HoldingPortfolio:
        return cls(
            items=[
                Holding.from_domain(h, view)
                for h in holdings
                if include_closed or h.status is not HoldingStatus.CLOSED
            ],
            totals=[CurrencyTotals.from_domain(t) for t in summary.totals],
            product_count=summary.product_count,
            categories_held=list(summary.categories_held),
        )
