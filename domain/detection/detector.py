"""Applying the rules: facts about one event or one customer in, a Finding (or nothing) out.

The facts are gathered set-based by the adapter for a whole batch of events; these functions
only compare them with the thresholds, so every rule can be tested on crafted numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.detection.alerts import Finding
from domain.detection.rules import DetectionRule, RuleKind, Severity
from domain.fund_movements import MovementDirection

# Below this many earlier movements, "typical" means little: only the absolute amount counts.
MIN_HISTORY = 3
_ONE_UP = {
    Severity.LOW: Severity.MEDIUM,
    Severity.MEDIUM: Severity.HIGH,
    Severity.HIGH: Severity.HIGH,
}


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: int
    kind: str  # personal | corporate: selects the threshold scope
    tier: str | None  # value tier of the latest scored month; None before any scoring


@dataclass(frozen=True, slots=True)
class MovementFacts:
    customer: CustomerFacts
    movement_id: int
    holding_id: int
    amount: Decimal
    currency: str
    direction: MovementDirection
    booked_at: datetime
    typical_amount: Decimal | None  # mean of the earlier movements within the lookback
    earlier_movements: int
    deposit_holding: bool
    deposits_now: Decimal  # deposit balances per the holdings feed
    net_outflow: Decimal  # deposit debits − credits within the window, this one included


@dataclass(frozen=True, slots=True)
class ClosureFacts:
    customer: CustomerFacts
    holding_id: int
    product_code: str
    category: str
    remaining_in_category: int  # other open holdings of the same category
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    customer: CustomerFacts
    interaction_id: int
    channel: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class SilenceFacts:
    customer: CustomerFacts
    last_interaction_at: datetime | None
    customer_since: datetime


@dataclass(frozen=True, slots=True)
class VisitFacts:
    """A customer with an RM whose visit calendar asks for more visits than were made."""

    customer: CustomerFacts
    visits: int  # RM visits (channel rm_visit) in the last `days` days
    days: int  # the calendar's period for this customer
    last_visit_at: datetime | None


@dataclass(frozen=True, slots=True)
class OccasionFacts:
    customer: CustomerFacts
    birth_date: date | None
    customer_since: date
    contact_allowed: bool  # the customer's marketing consent


@dataclass(frozen=True, slots=True)
class IndustryFacts:
    customer: CustomerFacts
    industry: str | None
    lifecycle_stage: str | None


def _threshold(rule: DetectionRule, name: str, customer: CustomerFacts) -> float:
    return rule.threshold(name, customer.kind, customer.tier)


def window_days(rule: DetectionRule, name: str) -> dict[str, int]:
    """The window a rule needs per customer kind, and per value tier where the rule sets one
    (`tier:high`: the tier wins over the kind), so the adapter gathers exactly it."""
    windows = {kind: int(rule.threshold(name, kind)) for kind in ("personal", "corporate")}
    for scope, values in rule.thresholds.items():
        if scope.startswith("tier:") and name in values:
            windows[scope] = int(values[name])
    return windows


def large_fund_movement(rule: DetectionRule, facts: MovementFacts) -> Finding | None:
    customer = facts.customer
    absolute = Decimal(str(_threshold(rule, "absolute_amount", customer)))
    multiple = Decimal(str(_threshold(rule, "typical_multiple", customer)))
    reasons = []
    if facts.amount > absolute:
        reasons.append("above_absolute_amount")
    typical = facts.typical_amount
    if (
        typical is not None
        and typical > 0
        and facts.earlier_movements >= MIN_HISTORY
        and facts.amount > multiple * typical
    ):
        reasons.append("above_typical_multiple")
    if not reasons:
        return None
    return Finding(
        customer_id=customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:movement:{facts.movement_id}",
        evidence={
            "movementId": facts.movement_id,
            "holdingId": facts.holding_id,
            "amount": str(facts.amount),
            "currency": facts.currency,
            "direction": facts.direction.value,
            "absoluteAmount": str(absolute),
            "typicalAmount": None if typical is None else str(typical.quantize(Decimal("0.01"))),
            "typicalMultiple": str(multiple),
            "earlierMovements": facts.earlier_movements,
            "lookbackDays": int(_threshold(rule, "lookback_days", customer)),
            "reasons": reasons,
        },
        observed_at=facts.booked_at,
    )


def balance_drop(rule: DetectionRule, facts: MovementFacts) -> Finding | None:
    """Deposits fell by more than drop_percent within the window: net outflow ÷ (balance now
    + net outflow), i.e. against what the customer held when the window opened."""
    if facts.direction is not MovementDirection.DEBIT or not facts.deposit_holding:
        return None
    customer = facts.customer
    start = facts.deposits_now + facts.net_outflow
    if start <= 0 or facts.net_outflow <= 0:
        return None
    drop = facts.net_outflow * 100 / start
    limit = Decimal(str(_threshold(rule, "drop_percent", customer)))
    if drop <= limit:
        return None
    return Finding(
        customer_id=customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:movement:{facts.movement_id}",
        evidence={
            "movementId": facts.movement_id,
            "depositsNow": str(facts.deposits_now),
            "depositsAtWindowStart": str(start),
            "netOutflow": str(facts.net_outflow),
            "dropPercent": str(drop.quantize(Decimal("0.1"))),
            "limitPercent": str(limit),
            "windowDays": int(_threshold(rule, "window_days", customer)),
        },
        observed_at=facts.booked_at,
    )


def product_closure(rule: DetectionRule, facts: ClosureFacts) -> Finding | None:
    last_only = _threshold(rule, "last_in_category_only", facts.customer) > 0
    last = facts.remaining_in_category == 0
    if last_only and not last:
        return None
    return Finding(
        customer_id=facts.customer.customer_id,
        rule=rule.kind,
        # Losing the last product of a kind loosens the relationship more than one of several.
        severity=_ONE_UP[rule.severity] if last else rule.severity,
        dedupe_key=f"{rule.kind}:holding:{facts.holding_id}",
        evidence={
            "holdingId": facts.holding_id,
            "productCode": facts.product_code,
            "category": facts.category,
            "lastInCategory": last,
            "remainingInCategory": facts.remaining_in_category,
        },
        observed_at=facts.observed_at,
    )


def complaint(rule: DetectionRule, facts: ComplaintFacts) -> Finding:
    return Finding(
        customer_id=facts.customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:interaction:{facts.interaction_id}",
        evidence={"interactionId": facts.interaction_id, "channel": facts.channel},
        observed_at=facts.occurred_at,
        interaction_id=facts.interaction_id,
    )


def silence(rule: DetectionRule, facts: SilenceFacts, now: datetime) -> Finding | None:
    days = _threshold(rule, "days", facts.customer)
    since = facts.last_interaction_at or facts.customer_since
    quiet_days = (now - since).days
    if quiet_days < days:
        return None
    # One alert per silent period: the period is named by its last interaction.
    period = since.date().isoformat()
    return Finding(
        customer_id=facts.customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:{facts.customer.customer_id}:{period}",
        evidence={
            "lastInteractionAt": None
            if facts.last_interaction_at is None
            else facts.last_interaction_at.isoformat(),
            "quietDays": quiet_days,
            "limitDays": int(days),
        },
        observed_at=now,
    )


def _next_occurrence(day: date, as_of: date) -> date:
    for year in (as_of.year, as_of.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:  # 29 February in a common year
            candidate = date(year, 2, 28)
        if candidate >= as_of:
            return candidate
    raise AssertionError("unreachable: next year's occurrence is always ahead")


def occasions(
    rule: DetectionRule, facts: OccasionFacts, as_of: date, now: datetime
) -> list[Finding]:
    """Birthdays and relationship anniversaries within days_ahead, never against a withheld
    marketing consent (consent is opt-in)."""
    if not facts.contact_allowed:
        return []
    days_ahead = int(_threshold(rule, "days_ahead", facts.customer))
    found = []
    candidates = [("anniversary", facts.customer_since)]
    if facts.birth_date is not None:
        candidates.insert(0, ("birthday", facts.birth_date))
    for occasion, origin in candidates:
        upcoming = _next_occurrence(origin, as_of)
        if (upcoming - as_of).days > days_ahead or upcoming.year <= origin.year:
            continue
        found.append(
            Finding(
                customer_id=facts.customer.customer_id,
                rule=rule.kind,
                severity=rule.severity,
                dedupe_key=f"{rule.kind}:{occasion}:{facts.customer.customer_id}:{upcoming.year}",
                evidence={
                    "occasion": occasion,
                    "date": upcoming.isoformat(),
                    "years": upcoming.year - origin.year,
                },
                observed_at=now,
            )
        )
    return found


def industry_decline(
    rule: DetectionRule, facts: IndustryFacts, as_of: date, now: datetime
) -> Finding | None:
    if facts.customer.kind != "corporate" or facts.lifecycle_stage != "decline":
        return None
    quarter = f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}"
    return Finding(
        customer_id=facts.customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:{facts.customer.customer_id}:{quarter}",
        evidence={"industry": facts.industry, "lifecycleStage": facts.lifecycle_stage},
        observed_at=now,
    )


def missed_visit(rule: DetectionRule, facts: VisitFacts, now: datetime) -> Finding | None:
    planned = int(_threshold(rule, "visits", facts.customer))
    days = int(_threshold(rule, "days", facts.customer))
    if planned <= 0 or days <= 0 or facts.visits >= planned:
        return None
    # Periods are counted from the epoch in whole `days`: one alert per customer per period,
    # however often the schedule runs within it.
    period = int(now.timestamp() // 86_400) // days
    return Finding(
        customer_id=facts.customer.customer_id,
        rule=rule.kind,
        severity=rule.severity,
        dedupe_key=f"{rule.kind}:{facts.customer.customer_id}:{days}:{period}",
        evidence={
            "visitsPlanned": planned,
            "visitsMade": facts.visits,
            "periodDays": days,
            "lastVisitAt": None if facts.last_visit_at is None else facts.last_visit_at.isoformat(),
        },
        observed_at=now,
    )


def enabled(rules: Mapping[RuleKind, DetectionRule], kind: RuleKind) -> DetectionRule | None:
    rule = rules.get(kind)
    return rule if rule is not None and rule.enabled else None
