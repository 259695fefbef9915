"""Each rule on crafted facts: firing at its threshold's edge, silent just under it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.access.principal import Principal, Role
from domain.detection import detector
from domain.detection.alerts import (
    anniversaries,
    escalation_reason,
    in_cooldown,
    may_handle,
    next_level,
)
from domain.detection.rules import DetectionRule, RuleKind, Severity, default_rules
from domain.errors import InvalidInput
from domain.fund_movements import MovementDirection
from domain.relationships import ReasonCode, RelationshipState
from domain.webhooks import next_attempt, validate_event_types, validate_url

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES = {r.kind: r for r in default_rules()}
PERSON = detector.CustomerFacts(customer_id=7, kind="personal", tier=None)
COMPANY = detector.CustomerFacts(customer_id=8, kind="corporate", tier=None)


def movement(amount: str, **changes: object) -> detector.MovementFacts:
    base = detector.MovementFacts(
        customer=PERSON,
        movement_id=1,
        holding_id=2,
        amount=Decimal(amount),
        currency="CNY",
        direction=MovementDirection.DEBIT,
        booked_at=NOW,
        typical_amount=None,
        earlier_movements=0,
        deposit_holding=True,
        deposits_now=Decimal("1000000"),
        net_outflow=Decimal("0"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_large_movement_fires_above_the_absolute_amount_by_customer_kind() -> None:
    rule = RULES[RuleKind.LARGE_FUND_MOVEMENT]
    assert detector.large_fund_movement(rule, movement("500000.00")) is None
    found = detector.large_fund_movement(rule, movement("500000.01"))
    assert found is not None
    assert found.evidence["reasons"] == ["above_absolute_amount"]
    assert found.dedupe_key == "large_fund_movement:movement:1"
    # Corporate customers have their own, higher threshold.
    company = movement("500000.01", customer=COMPANY)
    assert detector.large_fund_movement(rule, company) is None
    assert detector.large_fund_movement(rule, replace(company, amount=Decimal("5000000.01")))


def test_a_large_movement_fires_above_a_multiple_of_the_typical_one_with_enough_history() -> None:
    rule = RULES[RuleKind.LARGE_FUND_MOVEMENT]
    typical = {"typical_amount": Decimal("300"), "earlier_movements": 3}
    assert detector.large_fund_movement(rule, movement("3000.00", **typical)) is None
    found = detector.large_fund_movement(rule, movement("3000.01", **typical))
    assert found is not None
    assert found.evidence["reasons"] == ["above_typical_multiple"]
    # Two earlier movements are too few to call anything typical.
    thin = {"typical_amount": Decimal("300"), "earlier_movements": 2}
    assert detector.large_fund_movement(rule, movement("3000.01", **thin)) is None


def test_tier_thresholds_win_over_kind_and_default() -> None:
    rule = RULES[RuleKind.LARGE_FUND_MOVEMENT]
    high = replace(PERSON, tier="high")
    assert detector.large_fund_movement(rule, movement("600000", customer=high)) is None
    assert detector.large_fund_movement(rule, movement("2000000.01", customer=high))


def test_a_balance_drop_fires_above_the_percentage_of_deposits_at_the_window_start() -> None:
    rule = RULES[RuleKind.BALANCE_DROP]
    # 50,000 out of 100,000 held at the window's start: exactly 50%, not above.
    exactly = movement("1", deposits_now=Decimal("50000"), net_outflow=Decimal("50000"))
    assert detector.balance_drop(rule, exactly) is None
    above = replace(exactly, net_outflow=Decimal("50001"))
    found = detector.balance_drop(rule, above)
    assert found is not None
    assert found.evidence["dropPercent"] == "50.0"  # 50.0005%, rounded for the reader
    assert found.evidence["depositsAtWindowStart"] == "100001"
    # Money coming in, or out of a loan account, is no drop in deposits.
    assert detector.balance_drop(rule, replace(above, direction=MovementDirection.CREDIT)) is None
    assert detector.balance_drop(rule, replace(above, deposit_holding=False)) is None


def test_a_closure_fires_for_the_last_of_its_category_one_level_up() -> None:
    rule = RULES[RuleKind.PRODUCT_CLOSURE]
    facts = detector.ClosureFacts(PERSON, 5, "WM-FIX", "wealth", 1, NOW)
    found = detector.product_closure(rule, facts)  # by default every closure alerts
    assert found is not None
    assert found.severity is Severity.MEDIUM
    last = detector.product_closure(rule, replace(facts, remaining_in_category=0))
    assert last is not None
    assert last.severity is Severity.HIGH
    only_last = replace(rule, thresholds={"default": {"last_in_category_only": 1}})
    assert detector.product_closure(only_last, facts) is None
    assert detector.product_closure(only_last, replace(facts, remaining_in_category=0))


def test_silence_fires_from_the_threshold_day_once_per_quiet_period() -> None:
    rule = RULES[RuleKind.SILENCE]
    since = datetime(2020, 1, 1, tzinfo=UTC)
    facts = detector.SilenceFacts(PERSON, NOW - timedelta(days=180), since)
    found = detector.silence(rule, facts, NOW)
    assert found is not None
    assert found.evidence["quietDays"] == 180
    assert (
        detector.silence(rule, replace(facts, last_interaction_at=NOW - timedelta(days=179)), NOW)
        is None
    )
    later = detector.silence(rule, facts, NOW + timedelta(days=40))
    assert later is not None
    assert later.dedupe_key == found.dedupe_key
    # High-tier customers are missed sooner.
    assert detector.silence(
        rule,
        replace(
            facts,
            customer=replace(PERSON, tier="high"),
            last_interaction_at=NOW - timedelta(days=60),
        ),
        NOW,
    )


def test_birthdays_and_anniversaries_within_the_window_need_marketing_consent() -> None:
    rule = RULES[RuleKind.BIRTHDAY]
    as_of = date(2026, 11, 23)
    facts = detector.OccasionFacts(PERSON, date(1990, 11, 30), date(2019, 12, 1), True)
    found = detector.occasions(rule, facts, as_of, NOW)
    assert [(f.evidence["occasion"], f.evidence["years"]) for f in found] == [("birthday", 36)]
    eight_days = replace(facts, birth_date=date(1990, 12, 1))
    assert detector.occasions(rule, eight_days, as_of, NOW) == []
    assert detector.occasions(rule, replace(facts, contact_allowed=False), as_of, NOW) == []
    anniversary = replace(facts, birth_date=None, customer_since=date(2016, 11, 25))
    (found_anniversary,) = detector.occasions(rule, anniversary, as_of, NOW)
    assert found_anniversary.evidence == {
        "occasion": "anniversary",
        "date": "2026-11-25",
        "years": 10,
    }


def test_a_29_february_birthday_is_kept_on_the_28th_in_common_years() -> None:
    assert (2, 29) in anniversaries(date(2027, 2, 27), 1)
    assert (2, 29) not in anniversaries(date(2028, 2, 27), 1)
    rule = RULES[RuleKind.BIRTHDAY]
    facts = detector.OccasionFacts(PERSON, date(2000, 2, 29), date(2030, 1, 1), True)
    (found,) = detector.occasions(rule, facts, date(2027, 2, 25), NOW)
    assert found.evidence["date"] == "2027-02-28"


def test_a_declining_industry_alerts_for_corporates_once_a_quarter() -> None:
    rule = RULES[RuleKind.INDUSTRY_DECLINE]
    facts = detector.IndustryFacts(COMPANY, "纺织", "decline")
    found = detector.industry_decline(rule, facts, date(2026, 11, 23), NOW)
    assert found is not None
    assert found.dedupe_key.endswith("2026-Q4")
    assert (
        detector.industry_decline(
            rule, replace(facts, lifecycle_stage="mature"), date(2026, 11, 23), NOW
        )
        is None
    )


def test_cooldowns_escalation_and_who_handles_alerts() -> None:
    assert in_cooldown(NOW - timedelta(hours=23, minutes=59), 24, NOW)
    assert not in_cooldown(NOW - timedelta(hours=24), 24, NOW)
    assert not in_cooldown(None, 24, NOW)
    assert next_level(RelationshipState.NORMAL) is RelationshipState.WATCH
    assert next_level(RelationshipState.EXIT) is None
    assert (
        escalation_reason([RuleKind.COMPLAINT, RuleKind.COMPLAINT, RuleKind.BALANCE_DROP])
        is ReasonCode.COMPLAINTS
    )
    rm = Principal(subject="rm1", role=Role.RELATIONSHIP_MANAGER, rm_id=1)
    agent = Principal(subject="a", role=Role.AGENT)
    assert may_handle(rm, 1)
    assert not may_handle(rm, 2)
    assert may_handle(agent, None)
    assert not may_handle(agent, 1)
    assert not may_handle(Principal(subject="t", role=Role.TELLER), None)


def test_webhook_backoff_urls_and_event_types() -> None:
    base = timedelta(seconds=30)
    assert [next_attempt(n, base).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert next_attempt(30, base) == timedelta(hours=6)
    assert validate_url("https://crm.bank.example/hooks", True)
    with pytest.raises(InvalidInput):
        validate_url("http://crm.bank.example/hooks", True)
    with pytest.raises(InvalidInput):
        validate_url("https://user:pw@crm.bank.example/", False)
    with pytest.raises(InvalidInput):
        validate_event_types(["alert.opened", "customer.deleted"])
    with pytest.raises(InvalidInput):
        validate_event_types([])


def test_a_disabled_rule_is_not_applied() -> None:
    rules: dict[RuleKind, DetectionRule] = {
        RuleKind.COMPLAINT: replace(RULES[RuleKind.COMPLAINT], enabled=False)
    }
    assert detector.enabled(rules, RuleKind.COMPLAINT) is None
    assert detector.enabled(rules, RuleKind.SILENCE) is None
