"""Detection rules in GraphQL: read them, re-tune or switch them (admin)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from domain.detection.rules import DetectionRule as RuleModel
from domain.detection.rules import RuleKind, Severity
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)


@strawberry.type(description="A detection rule: data, not code.")
class DetectionRule:
    kind: RuleKind = strawberry.field(description="What it watches.")
    enabled: bool = strawberry.field(description="Switched on.")
    severity: Severity = strawberry.field(description="Severity of its alerts.")
    cooldown_hours: int = strawberry.field(description="Quiet time per customer after an alert.")
    thresholds: JSON = strawberry.field(
        description="Parameters per scope: 'default', 'personal'/'corporate', 'tier:<tier>'; "
        "the most specific scope wins."
    )

    @classmethod
    def from_domain(cls, rule: RuleModel) -> DetectionRule:
        return cls(
            kind=rule.kind,
            enabled=rule.enabled,
            severity=rule.severity,
            cooldown_hours=rule.cooldown_hours,
            thresholds=JSON({k: dict(v) for k, v in rule.thresholds.items()}),
        )


@strawberry.input(description="Change a rule; fields left out keep their value.")
class UpdateDetectionRuleInput:
    kind: RuleKind = strawberry.field(description="The rule.")
    enabled: bool | None = strawberry.field(default=None, description="Switch on or off.")
    severity: Severity | None = strawberry.field(default=None, description="New severity.")
    cooldown_hours: int | None = strawberry.field(default=None, description="New cooldown.")
    thresholds: JSON | None = strawberry.field(default=None, description="New thresholds.")


UpdateDetectionRuleResult = Annotated[
    DetectionRule | InvalidInputError | NotFoundError | ForbiddenError,
    strawberry.union("UpdateDetectionRuleResult", description="The rule, or why not."),
]
