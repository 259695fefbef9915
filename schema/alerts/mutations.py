"""acknowledgeAlert: someone has seen an alert (its contact task stays open)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.detection.handling import acknowledge_alert
from domain.errors import DomainError
from domain.ids import decode_typed_id
from schema.alerts.types import AcknowledgeAlertResult, shown
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    error_type,
)


@strawberry.type
class AlertMutations:
    @strawberry.mutation(
        description="Acknowledge an open alert: someone has seen it. Its contact task stays "
        "open; completing the task closes the alert."
    )
    async def acknowledge_alert(self, info: Info, id: strawberry.ID) -> AcknowledgeAlertResult:
        try:
            require(info, "acknowledgeAlert")
            pk = decode_typed_id(id, "Alert")
            alert = await acknowledge_alert(
                info.context.alert_changes, pk, info.context.principal, datetime.now(UTC)
            )
        except DomainError as exc:
            return error_type(exc)
        (answer,) = await shown(info, [alert])
        return answer
