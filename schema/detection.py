"""Detection rules in GraphQL: read them, re-tune or switch them (admin)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from domain.detection.rules import DetectionRule as RuleModel
from domain.detection.rules import RuleKind, Severity, validate_rule
from domain.errors import DomainError, NotFound
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UserFacingError,
    error_type,
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


@strawberry.type
class DetectionQueries:
    @strawberry.field(description="Every detection rule with its thresholds.")
    async def detection_rules(self, info: Info) -> list[DetectionRule]:
        try:
            require(info, "detectionRules")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return [DetectionRule.from_domain(r) for r in await info.context.detection_rules.rules()]


@strawberry.type
class DetectionMutations:
    @strawberry.mutation(description="Re-tune or switch a detection rule (admin).")
    async def update_detection_rule(
        self, info: Info, input: UpdateDetectionRuleInput
    ) -> UpdateDetectionRuleResult:
        store = info.context.detection_rules
        try:
            require(info, "updateDetectionRule")
            current = next((r for r in await store.rules() if r.kind is input.kind), None)
            if current is None:
                raise NotFound("detection rule", input.kind.value)
            updated = replace(
                current,
                enabled=current.enabled if input.enabled is None else input.enabled,
                severity=input.severity or current.severity,
                cooldown_hours=current.cooldown_hours
                if input.cooldown_hours is None
                else input.cooldown_hours,
            )
            thresholds = validate_rule(
                updated.kind,
                updated.severity,
                updated.cooldown_hours,
                {k: dict(v) for k, v in current.thresholds.items()}
                if input.thresholds is None
                else input.thresholds,
            )
            saved = await store.save(
                replace(updated, thresholds=thresholds), info.context.principal.subject
            )
        except DomainError as exc:
            return error_type(exc)
        return DetectionRule.from_domain(saved)
