"""Holding totals: per currency, open holdings only, product spread first-class."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.products import (
    Holding,
    HoldingStatus,
    Product,
    ProductAudience,
    ProductCategory,
    summarize_holdings,
)

_ids = iter(range(1, 1000))


def holding(
    category: ProductCategory,
    balance: str,
    *,
    currency: str = "CNY",
    product_id: int | None = None,
    status: HoldingStatus = HoldingStatus.ACTIVE,
) -> Holding:
    pid = product_id or next(_ids)
    product = Product(pid, f"P{pid}", "p", category, ProductAudience.ANY, currency)
    return Holding(
        id=next(_ids),
        customer_id=1,
        product=product,
        account_number="x",
        currency=currency,
        balance=Decimal(balance),
        credit_limit=None,
        status=status,
        opened_on=date(2020, 1, 1),
        closed_on=date(2021, 1, 1) if status is HoldingStatus.CLOSED else None,
    )


def test_deposits_loans_and_assets_are_totalled_per_currency() -> None:
    summary = summarize_holdings(
        [
            holding(ProductCategory.DEPOSIT, "100.00"),
            holding(ProductCategory.TIME_DEPOSIT, "1000.00"),
            holding(ProductCategory.WEALTH, "5000.00"),
            holding(ProductCategory.LOAN, "300000.00"),
            holding(ProductCategory.CREDIT_CARD, "2500.50"),
            holding(ProductCategory.PAYMENT, "0"),
            holding(ProductCategory.DEPOSIT, "20.00", currency="USD"),
        ]
    )
    cny, usd = summary.totals
    assert (cny.currency, cny.deposits, cny.loans, cny.assets_under_management) == (
        "CNY",
        Decimal("1100.00"),
        Decimal("302500.50"),
        Decimal("6100.00"),
    )
    assert (usd.currency, usd.deposits, usd.assets_under_management) == (
        "USD",
        Decimal("20.00"),
        Decimal("20.00"),
    )
    assert summary.product_count == 7


def test_closed_holdings_count_for_nothing() -> None:
    summary = summarize_holdings(
        [
            holding(ProductCategory.DEPOSIT, "100.00"),
            holding(ProductCategory.LOAN, "9999.00", status=HoldingStatus.CLOSED),
        ]
    )
    assert summary.product_count == 1
    assert summary.categories_held == (ProductCategory.DEPOSIT,)
    assert summary.totals[0].loans == Decimal("0")


def test_two_accounts_of_one_product_are_one_product_and_categories_follow_catalog_order() -> None:
    summary = summarize_holdings(
        [
            holding(ProductCategory.WEALTH, "1", product_id=500),
            holding(ProductCategory.DEPOSIT, "1", product_id=501),
            holding(ProductCategory.DEPOSIT, "1", product_id=501),
        ]
    )
    assert summary.product_count == 2
    assert summary.categories_held == (ProductCategory.DEPOSIT, ProductCategory.WEALTH)


def test_a_customer_without_holdings_has_empty_totals() -> None:
    summary = summarize_holdings([])
    assert (summary.totals, summary.product_count, summary.categories_held) == ((), 0, ())
