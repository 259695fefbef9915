"""The campaign report from counted figures, and the transparent response score, against
values worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.campaigns.lifecycle import Campaign
from domain.campaigns.model import (
    Arm,
    CampaignKind,
    CampaignPlan,
    CampaignStatus,
    ContactChannel,
)
from domain.campaigns.report import EMPTY, GroupFigures, campaign_report
from domain.campaigns.response_score import ScoreInputs, past_points, priority, score

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _campaign(ends_at: datetime, holdout: str = "0.2") -> Campaign:
    plan = CampaignPlan(
        name="c",
        objective="",
        kind=CampaignKind.OFFER,
        segment_ids=(1,),
        arms=(
            Arm("visit", Decimal("0.5"), ContactChannel.RM_VISIT, (1,), ""),
            Arm("sms", Decimal("0.5"), ContactChannel.SMS, (1,), ""),
        ),
        holdout_share=Decimal(holdout),
        budget=Decimal("100000"),
        cost_per_contact={
            ContactChannel.RM_VISIT: Decimal("100"),
            ContactChannel.SMS: Decimal("1"),
        },
        planned_contacts=1000,
        starts_at=NOW - timedelta(days=40),
        ends_at=ends_at,
    )
    return Campaign(1, plan, CampaignStatus.RUNNING, "m", NOW, "c", NOW, None, NOW, NOW)


def test_an_arm_against_its_control_slice() -> None:
    groups = {
        # 500 treated, 400 contacted, 100 responded; contributions +20 on average.
        (0, False): GroupFigures(500, 400, 100, 500, Decimal("10000"), 100, Decimal("5000")),
        # 125 control, 10 responded; +4 on average.
        (0, True): GroupFigures(125, 0, 10, 125, Decimal("500"), 10, Decimal("100")),
    }
    report = campaign_report(_campaign(NOW - timedelta(days=1)), groups, (), (), (), NOW)
    visit, sms = report.arms
    assert (visit.planned, visit.planned_control) == (500, 125)  # 1000 × 0.5; 500 × 0.2/0.8
    assert visit.treated.rate == pytest.approx(0.2)
    assert visit.control.rate == pytest.approx(0.08)
    assert visit.uplift is not None
    assert visit.uplift.difference == pytest.approx(0.12)
    assert visit.uplift.p_value < 0.01
    assert visit.cost == Decimal("40000")  # 400 contacted × 100
    assert visit.incremental_contribution == Decimal("8000.00")  # (20 − 4) × 500
    assert visit.responders_mean_change == Decimal("50.00")
    assert visit.roi == pytest.approx((8000 - 40000) / 40000)
    assert visit.warnings == ()  # full size, window closed
    # The other arm has nobody: nothing to compare, and it says so.
    assert sms.uplift is None
    assert sms.incremental_contribution is None
    assert any("below the planned size" in w for w in sms.warnings)
    assert report.incremental_contribution is None
    assert report.cost == Decimal("40000")


def test_no_peeking_while_the_window_is_open_or_below_the_planned_size() -> None:
    small = {
        (0, False): GroupFigures(50, 50, 10, 0, Decimal(0), 0, Decimal(0)),
        (0, True): GroupFigures(12, 0, 1, 0, Decimal(0), 0, Decimal(0)),
    }
    report = campaign_report(_campaign(NOW + timedelta(days=1)), small, (), (), (), NOW)
    warnings = report.arms[0].warnings
    assert any(
        "below the planned size (50 of 500 treated, 12 of 125 control)" in w for w in warnings
    )
    assert any("window is still open" in w for w in warnings)
    no_control = campaign_report(
        _campaign(NOW - timedelta(days=1), holdout="0"),
        {(0, False): small[(0, False)]},
        (),
        (),
        (),
        NOW,
    )
    assert any("no control group" in w for w in no_control.arms[0].warnings)
    assert no_control.arms[0].planned_control == 0
    assert EMPTY.members == 0


def test_the_response_score_by_its_bands() -> None:
    never = score(ScoreInputs(None, 0, None, 0, 0))
    assert (never.recency, never.frequency, never.monetary, never.past) == (0, 0, 0, 15)
    keen = score(ScoreInputs(3, 7, Decimal("1500"), 4, 4))
    assert (keen.recency, keen.frequency, keen.monetary, keen.past) == (30, 20, 20, 25)
    assert keen.total == 95
    edge = score(ScoreInputs(30, 3, Decimal("200"), 0, 0))
    assert (edge.recency, edge.frequency, edge.monetary) == (30, 14, 14)
    assert score(ScoreInputs(31, 1, Decimal("0.01"), 0, 0)).recency == 20
    assert score(ScoreInputs(181, 0, Decimal("-5"), 0, 0)).total == 15
    # (responses + 1) / (contacts + 2) × 30, half up: 1/4 × 30 = 7.5 → 8; 1/3 × 30 = 10.
    assert (past_points(2, 0), past_points(1, 0), past_points(10, 10)) == (8, 10, 28)
    assert priority("high", 95) < priority("high", 40) < priority("potential", 99)
    assert priority(None, 50) < priority("low", 100) < priority("negative", 100)
