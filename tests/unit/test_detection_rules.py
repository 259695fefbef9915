"""Detection rules are data: defaults validate, thresholds resolve most specific first."""

from __future__ import annotations

import pytest

from domain.detection.rules import RuleKind, Severity, default_rules, validate_rule
from domain.errors import InvalidInput


def test_the_documented_defaults_cover_every_kind_and_validate() -> None:
    rules = {r.kind: r for r in default_rules()}
    assert set(rules) == set(RuleKind)
    assert all(r.enabled for r in rules.values())


def test_a_threshold_resolves_tier_then_customer_type_then_default() -> None:
    rule = {r.kind: r for r in default_rules()}[RuleKind.LARGE_FUND_MOVEMENT]
    assert rule.threshold("absolute_amount", "personal") == 500_000
    assert rule.threshold("absolute_amount", "corporate") == 5_000_000
    assert rule.threshold("absolute_amount", "personal", tier="high") == 2_000_000
    assert rule.threshold("typical_multiple", "corporate", tier="low") == 10
    with pytest.raises(KeyError):
        rule.threshold("days", "personal")


@pytest.mark.parametrize(
    ("thresholds", "names"),
    [
        ({"personal": {"days": 10}}, "'default' scope"),
        ({"default": {"days": 10}, "branch:1": {"days": 1}}, "unknown scope"),
        ({"default": {"days": 10, "weeks": 2}}, "no parameter 'weeks'"),
        ({"default": {"days": -1}}, "number ≥ 0"),
        ({"default": {}}, "lacks ['days']"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_bad_part(thresholds: object, names: str) -> None:
    with pytest.raises(InvalidInput, match=names.replace("[", r"\[").replace("]", r"\]")):
        validate_rule(RuleKind.SILENCE, Severity.LOW, 24, thresholds)
