"""The product catalog and what each customer holds (product count and spread are first-class)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class ProductCategory(enum.StrEnum):
    DEPOSIT = "deposit"
    TIME_DEPOSIT = "time_deposit"
    LOAN = "loan"
    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"
    WEALTH = "wealth"
    INSURANCE = "insurance"
    PAYMENT = "payment"
    CASH_MANAGEMENT = "cash_management"


class ProductAudience(enum.StrEnum):
    PERSONAL = "personal"
    CORPORATE = "corporate"
    ANY = "any"


class HoldingStatus(enum.StrEnum):
    ACTIVE = "active"
    DORMANT = "dormant"
    CLOSED = "closed"


# What each category's balance means for the totals: money the customer keeps with the bank
# (a deposit, also behind a debit card or a cash-management account), money the customer owes
# (a loan, a credit card's outstanding), or assets managed but off the deposit book.
DEPOSIT_CATEGORIES = frozenset(
    {
        ProductCategory.DEPOSIT,
        ProductCategory.TIME_DEPOSIT,
        ProductCategory.DEBIT_CARD,
        ProductCategory.CASH_MANAGEMENT,
    }
)
LOAN_CATEGORIES = frozenset({ProductCategory.LOAN, ProductCategory.CREDIT_CARD})
INVESTMENT_CATEGORIES = frozenset({ProductCategory.WEALTH, ProductCategory.INSURANCE})


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    code: str
    name: str
    category: ProductCategory
    audience: ProductAudience
    currency: str
    retired_at: datetime | None = None  # offered no more; holdings still refer to it


@dataclass(frozen=True, slots=True)
class Holding:
    """One product held by one customer: an account, a card, a loan, a policy…"""

    id: int
    customer_id: int
    product: Product
    account_number: str
    currency: str
    balance: Decimal
    credit_limit: Decimal | None
    status: HoldingStatus
    opened_on: date
    closed_on: date | None


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """Totals over open holdings in one currency; no exchange rate is invented."""

    currency: str
    deposits: Decimal
    loans: Decimal
    assets_under_management: Decimal


@dataclass(frozen=True, slots=True)
class HoldingsSummary:
    totals: tuple[CurrencyTotals, ...]
    product_count: int
    categories_held: tuple[ProductCategory, ...]


def summarize_holdings(holdings: Iterable[Holding]) -> HoldingsSummary:
    """Totals per currency, distinct products and categories over the holdings still open.

    Assets under management are deposits plus wealth and insurance holdings: what the customer
    entrusts to the bank. Closed holdings count for neither totals nor product count.
    """
    zero = Decimal("0")
    sums: dict[str, list[Decimal]] = {}
    products: set[int] = set()
    categories: set[ProductCategory] = set()
    for holding in holdings:
        if holding.status is HoldingStatus.CLOSED:
            continue
        products.add(holding.product.id)
        category = holding.product.category
        categories.add(category)
        bucket = sums.setdefault(holding.currency, [zero, zero, zero])
        if category in DEPOSIT_CATEGORIES:
            bucket[0] += holding.balance
            bucket[2] += holding.balance
        elif category in LOAN_CATEGORIES:
            bucket[1] += holding.balance
        elif category in INVESTMENT_CATEGORIES:
            bucket[2] += holding.balance
    totals = tuple(
        CurrencyTotals(currency=c, deposits=d, loans=loan, assets_under_management=aum)
        for c, (d, loan, aum) in sorted(sums.items())
    )
    ordered = tuple(c for c in ProductCategory if c in categories)
    return HoldingsSummary(totals=totals, product_count=len(products), categories_held=ordered)
