"""Alerts in GraphQL: what detection found, for the RM (or the call-center queue) to act on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from domain.access.policy import Visibility
from domain.detection.alerts import Alert as AlertModel
from domain.detection.alerts import AlertFilter, AlertStatus, alert_scope
from domain.detection.rules import RuleKind, Severity
from domain.ids import decode_typed_id, encode_id, with_global_ids
from schema.core.access import views_of
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from schema.core.pagination import Edge, PageInfo
from schema.tasks.types import Task

if TYPE_CHECKING:
    from schema.customers.types import Customer


@strawberry.type(description="A detection rule that fired for a customer, with its evidence.")
class Alert:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the alert.")
    customer_id: strawberry.ID = strawberry.field(description="The customer it is about.")
    rule: RuleKind = strawberry.field(description="The rule that fired.")
    severity: Severity = strawberry.field(description="How urgent it is.")
    status: AlertStatus = strawberry.field(description="Open, acknowledged or closed.")
    evidence: JSON | None = strawberry.field(
        description="What fired it: the movement, holding or interaction and the numbers "
        "compared with the rule's thresholds (null where the field policy hides it)."
    )
    fired_at: datetime = strawberry.field(description="When it was raised.")
    acknowledged_by: str | None = strawberry.field(description="Who acknowledged it.")
    acknowledged_at: datetime | None = strawberry.field(description="When it was acknowledged.")
    closed_at: datetime | None = strawberry.field(
        description="When its contact task was completed."
    )
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    task_pk: strawberry.Private[int | None]
    view: strawberry.Private[Visibility]

    @classmethod
    def from_domain(cls, alert: AlertModel, view: Visibility) -> Alert:
        """The alert as the caller may see it: `view` is their Visibility of its customer."""
        return cls(
            id=strawberry.ID(encode_id("Alert", alert.id)),
            customer_id=strawberry.ID(encode_id("Customer", alert.customer_id)),
            rule=alert.rule,
            severity=alert.severity,
            status=alert.status,
            evidence=JSON(with_global_ids(alert.evidence))
            if view.shows("Alert", "evidence")
            else None,
            fired_at=alert.fired_at,
            acknowledged_by=view.apply("Alert", "acknowledgedBy", alert.acknowledged_by),
            acknowledged_at=alert.acknowledged_at,
            closed_at=alert.closed_at,
            pk=alert.id,
            customer_pk=alert.customer_id,
            task_pk=alert.task_id,
            view=view,
        )

    @strawberry.field(description="The contact task the alert opened.")
    async def task(self, info: Info) -> Task | None:
        if self.task_pk is None:
            return None
        found = await info.context.loaders.task_by_id.load(self.task_pk)
        return None if found is None else Task.from_domain(found, self.view)

    @strawberry.field(
        description="The customer, as the caller may see them (masked and audited like "
        "every other path to a customer)."
    )
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers.types")] | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.customer_pk)


async def shown(info: Info, alerts: Sequence[AlertModel]) -> list[Alert]:
    """Alerts as the caller may see them (their customers read in one batch, and audited)."""
    views = await views_of(info, (a.customer_id for a in alerts))
    return [Alert.from_domain(a, views[a.customer_id]) for a in alerts if a.customer_id in views]


@strawberry.type(description="A page of alerts, newest first.")
class AlertConnection:
    edges: list[Edge[Alert]] = strawberry.field(description="This page, with cursors.")
    nodes: list[Alert] = strawberry.field(description="Alerts on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.input(description="Which alerts to list; every field narrows the list.")
class AlertFilterInput:
    statuses: list[AlertStatus] | None = strawberry.field(
        default=None, description="Only these statuses (open and acknowledged when left out)."
    )
    severities: list[Severity] | None = strawberry.field(
        default=None, description="Only these severities."
    )
    rules: list[RuleKind] | None = strawberry.field(default=None, description="Only these rules.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this customer's alerts."
    )


AcknowledgeAlertResult = Annotated[
    Alert | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("AcknowledgeAlertResult", description="The alert, or why not."),
]


def _filter(info: Info, wanted: AlertFilterInput | None) -> AlertFilter:
    scope = alert_scope(info.context.principal)  # the caller's row rule, always applied
    wanted = wanted or AlertFilterInput()
    return AlertFilter(
        statuses=frozenset(wanted.statuses or (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)),
        severities=frozenset(wanted.severities or ()),
        rules=frozenset(wanted.rules or ()),
        customer_id=None
        if wanted.customer_id is None
        else decode_typed_id(wanted.customer_id, "Customer", field="customerId"),
        rm_id=scope.rm_id,
        unassigned_only=scope.unassigned_only,
    )
