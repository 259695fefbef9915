"""A holdings-feed record is refused, never silently changed, when it cannot be stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.errors import InvalidInput
from domain.products import HoldingStatus
from domain.recording import HoldingChange, validate_holding_change

TODAY = date(2026, 3, 1)


def test_the_day_after_today_is_allowed_for_a_bank_ahead_of_utc() -> None:
    change = validate_holding_change(_record(opened_on=date(2026, 3, 2)), TODAY)
    assert change.opened_on == date(2026, 3, 2)


def _record(**overrides: object) -> HoldingChange:
    fields: dict[str, object] = {
        "source_ref": "core-1",
        "customer_id": 1,
        "product_code": "DEP-CUR",
        "account_number": "6222000000000001",
        "currency": "CNY",
        "balance": Decimal("100.50"),
        "status": HoldingStatus.ACTIVE,
        "opened_on": date(2025, 1, 5),
        "credit_limit": None,
        "closed_on": None,
        **overrides,
    }
    return HoldingChange(**fields)  # type: ignore[arg-type]


def test_amounts_in_cents_are_kept_exactly() -> None:
    change = validate_holding_change(_record(credit_limit=Decimal("5000")), TODAY)
    assert (change.balance, change.credit_limit) == (Decimal("100.50"), Decimal("5000"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"balance": Decimal("100.005")}, "balance"),  # the column would round it to 100.01
        ({"credit_limit": Decimal("0.001")}, "creditLimit"),
        ({"balance": Decimal("NaN")}, "balance"),
        ({"balance": Decimal("1e18")}, "balance"),
        ({"credit_limit": Decimal("-1")}, "creditLimit"),
        ({"opened_on": date(2026, 3, 3)}, "openedOn"),  # two days after TODAY
        (
            {"status": HoldingStatus.CLOSED, "closed_on": date(2026, 3, 5)},
            "closedOn",
        ),
    ],
)
def test_an_amount_that_cannot_be_stored_as_sent_is_invalid_input(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_holding_change(_record(**overrides), TODAY)
    assert refused.value.field == field
