"""A campaign plan is checked before anything is written: each bad input has its code and
the path of the field at fault; the lifecycle refuses what is out of turn."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.campaigns.model import (
    Arm,
    CampaignKind,
    CampaignPlan,
    CampaignStatus,
    ContactChannel,
    check_approval,
    check_end,
    check_launch,
    planned_cost,
    validate_plan,
)
from domain.errors import DomainError

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
PLAN = CampaignPlan(
    name="理财新品推介",
    objective="sell the new wealth product to deposit-rich customers",
    kind=CampaignKind.OFFER,
    segment_ids=(1,),
    arms=(
        Arm("visit", Decimal("0.5"), ContactChannel.RM_VISIT, (10,), "上门介绍"),
        Arm("push", Decimal("0.5"), ContactChannel.APP_PUSH, (10,), "新品上线"),
    ),
    holdout_share=Decimal("0.1"),
    budget=Decimal("60500"),
    cost_per_contact={
        ContactChannel.RM_VISIT: Decimal("120"),
        ContactChannel.APP_PUSH: Decimal("1"),
    },
    planned_contacts=1000,
    starts_at=NOW + timedelta(days=1),
    ends_at=NOW + timedelta(days=31),
)
PRODUCTS = {10: False, 11: True}


def test_a_sound_plan_passes_and_its_cost_is_each_arm_at_its_channel() -> None:
    assert validate_plan(PLAN, NOW, [1], PRODUCTS) == PLAN
    assert planned_cost(PLAN) == Decimal("60500")  # 500 visits × 120 + 500 pushes × 1


@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        ({"segment_ids": (2,)}, "NOT_FOUND", "2"),  # the schema names it by its global id
        (
            {"arms": (replace(PLAN.arms[0], share=Decimal("0.6")), PLAN.arms[1])},
            "INVALID_INPUT",
            "arms",
        ),
        ({"starts_at": NOW - timedelta(minutes=1)}, "INVALID_INPUT", "startsAt"),
        (
            {"arms": (replace(PLAN.arms[0], offer_product_ids=(11,)), PLAN.arms[1])},
            "PRODUCT_RETIRED",
            None,
        ),
        ({"budget": Decimal("60499.99")}, "BUDGET_TOO_LOW", None),
        ({"holdout_share": Decimal("0.6")}, "INVALID_INPUT", "holdoutShare"),
        ({"ends_at": NOW + timedelta(days=1)}, "INVALID_INPUT", "endsAt"),
        (
            {"arms": (replace(PLAN.arms[0], channel=ContactChannel.SMS), PLAN.arms[1])},
            "INVALID_INPUT",
            "arms[0].channel",
        ),
        ({"arms": (PLAN.arms[0], replace(PLAN.arms[1], name="visit"))}, "INVALID_INPUT", "arms"),
    ],
)
def test_a_bad_plan_is_refused_with_its_code(
    change: dict[str, object], code: str, where: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        validate_plan(replace(PLAN, **change), NOW, [1], PRODUCTS)  # type: ignore[arg-type]
    assert refused.value.code == code
    if where is not None:
        named = getattr(refused.value, "field", None) or getattr(refused.value, "key", None)
        assert named == where


def test_the_lifecycle_is_maker_checker_and_in_turn() -> None:
    check_approval(CampaignStatus.DRAFT, "maker", "checker")
    with pytest.raises(DomainError) as same:
        check_approval(CampaignStatus.DRAFT, "maker", "maker")
    assert same.value.code == "MAKER_CHECKER_VIOLATION"
    with pytest.raises(DomainError) as unapproved:
        check_launch(CampaignStatus.DRAFT)
    assert unapproved.value.code == "CAMPAIGN_NOT_APPROVED"
    check_launch(CampaignStatus.APPROVED)
    check_end(CampaignStatus.RUNNING, CampaignStatus.COMPLETED)
    for status, to in (
        (CampaignStatus.APPROVED, CampaignStatus.COMPLETED),
        (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED),
        (CampaignStatus.CANCELLED, CampaignStatus.CANCELLED),
    ):
        with pytest.raises(DomainError) as refused:
            check_end(status, to)
        assert refused.value.code == "INVALID_CAMPAIGN_STATE"
