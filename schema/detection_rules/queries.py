"""detectionRules: the rules detection runs, as data."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.detection_rules.types import DetectionRule


@strawberry.type
class DetectionQueries:
    @strawberry.field(description="Every detection rule with its thresholds.")
    async def detection_rules(self, info: Info) -> list[DetectionRule]:
        try:
            require(info, "detectionRules")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return [DetectionRule.from_domain(r) for r in await info.context.detection_rules.rules()]
