"""updateDetectionRule: switch a rule on or off, re-tune it (admins)."""

from __future__ import annotations

from dataclasses import replace

import strawberry

from domain.detection.rules import validate_rule
from domain.errors import DomainError, NotFound
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    error_type,
)
from schema.detection_rules.types import (
    DetectionRule,
    UpdateDetectionRuleInput,
    UpdateDetectionRuleResult,
)


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
