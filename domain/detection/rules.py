"""Detection rules are data: kind, severity, cooldown and thresholds per scope, switchable."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from domain.errors import InvalidInput

DEFAULTS = Path(__file__).resolve().parent / "default_rules.json"


class RuleKind(enum.StrEnum):
    LARGE_FUND_MOVEMENT = "large_fund_movement"
    BALANCE_DROP = "balance_drop"
    PRODUCT_CLOSURE = "product_closure"
    COMPLAINT = "complaint"
    SILENCE = "silence"
    BIRTHDAY = "birthday"
    INDUSTRY_DECLINE = "industry_decline"
    # A key customer's visit calendar (visits per period, by tier, as data): fewer RM visits
    # in the period than planned raises an alert and a visit task.
    MISSED_VISIT = "missed_visit"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# The parameters each kind understands; anything else in a scope is refused by name.
PARAMETERS: dict[RuleKind, frozenset[str]] = {
    RuleKind.LARGE_FUND_MOVEMENT: frozenset(
        {"absolute_amount", "typical_multiple", "lookback_days"}
    ),
    RuleKind.BALANCE_DROP: frozenset({"drop_percent", "window_days"}),
    RuleKind.PRODUCT_CLOSURE: frozenset({"last_in_category_only"}),
    RuleKind.COMPLAINT: frozenset(),
    RuleKind.SILENCE: frozenset({"days"}),
    RuleKind.BIRTHDAY: frozenset({"days_ahead"}),
    RuleKind.INDUSTRY_DECLINE: frozenset(),
    RuleKind.MISSED_VISIT: frozenset({"visits", "days"}),
}
SCOPES = (
    "default",
    "personal",
    "corporate",
    "tier:negative",
    "tier:low",
    "tier:potential",
    "tier:high",
)
Thresholds = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class DetectionRule:
    kind: RuleKind
    enabled: bool
    severity: Severity
    cooldown_hours: int
    thresholds: Thresholds

    def threshold(self, name: str, customer_kind: str, tier: str | None = None) -> float:
        """Most specific first: the customer's tier, then personal/corporate, then default."""
        for scope in (f"tier:{tier}" if tier else None, customer_kind, "default"):
            if scope is not None and name in self.thresholds.get(scope, {}):
                return float(self.thresholds[scope][name])
        raise KeyError(f"{self.kind.value} has no threshold {name!r}")


def validate_rule(
    kind: RuleKind, severity: Severity, cooldown_hours: int, thresholds: Any
) -> Thresholds:
    """Check a rule before it is stored; the error names the bad scope or parameter."""
    if not 0 <= cooldown_hours <= 24 * 366:
        raise InvalidInput("cooldownHours", "the cooldown is 0 to 8784 hours")
    if not isinstance(thresholds, dict) or "default" not in thresholds:
        raise InvalidInput("thresholds", "thresholds are an object with a 'default' scope")
    clean: dict[str, dict[str, float]] = {}
    for scope, values in thresholds.items():
        if scope not in SCOPES:
            raise InvalidInput("thresholds", f"unknown scope {scope!r}; use one of {SCOPES}")
        if not isinstance(values, dict):
            raise InvalidInput("thresholds", f"scope {scope!r} must be an object")
        for name, value in values.items():
            if name not in PARAMETERS[kind]:
                raise InvalidInput(
                    "thresholds", f"{kind.value} has no parameter {name!r} (in {scope!r})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput("thresholds", f"{scope}.{name} must be a number ≥ 0")
        clean[scope] = {name: float(value) for name, value in values.items()}
    missing = PARAMETERS[kind] - set(clean["default"])
    if missing:
        raise InvalidInput("thresholds", f"the default scope lacks {sorted(missing)}")
    return clean


def default_rules() -> list[DetectionRule]:
    """The documented defaults (domain/detection/default_rules.json), validated."""
    data = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    rules = []
    for item in data["rules"]:
        kind = RuleKind(item["kind"])
        severity = Severity(item["severity"])
        thresholds = validate_rule(kind, severity, item["cooldown_hours"], item["thresholds"])
        rules.append(
            DetectionRule(kind, item["enabled"], severity, item["cooldown_hours"], thresholds)
        )
    return rules


class DetectionRuleStore(Protocol):
    async def rules(self) -> list[DetectionRule]:
        """Every rule, in kind order."""
        ...

    async def save(self, rule: DetectionRule, actor: str) -> DetectionRule:
        """Store a validated rule (one kind, one row)."""
        ...
