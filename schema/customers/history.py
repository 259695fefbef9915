"""`Customer.changeHistory`: every change of the master record, each value masked by the
policy of the field it belongs to (domain/customers/history.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.access.policy import Visibility
from domain.customers.history import ChangeEntry, HistoryFilter, history_policy
from schema.core.context import Info
from schema.core.pagination import (
    PageInfo,
    check_first,
    decode_id_cursor,
    encode_cursor,
    split_page,
)


@strawberry.type(description="One changed field of the customer's record.")
class CustomerChange:
    field: str = strawberry.field(
        description="The field as the profile names it: displayName, personal.occupation, "
        "contactPoints.value…"
    )
    old_value: str | None = strawberry.field(
        description="The value before, as text; masked or null as the field is for you."
    )
    new_value: str | None = strawberry.field(
        description="The value after, as text; masked or null as the field is for you."
    )
    subject_id: int | None = strawberry.field(
        description="The contact point or document the change is about (its database id)."
    )
    changed_by: str = strawberry.field(description="The principal who made the change.")
    source_system: str | None = strawberry.field(
        description="The source system, when an integration made it."
    )
    correlation_id: str | None = strawberry.field(
        description="The request that made it (X-Request-Id), to find it in the logs."
    )
    reason: str | None = strawberry.field(description="Why, where the change said.")
    changed_at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_domain(cls, entry: ChangeEntry, view: Visibility) -> CustomerChange:
        # Document numbers were kept masked (the numbers stay sealed): their policy's mask
        # leaves them as they are, and hides them from whom the number is hidden.
        type_name, name = history_policy(entry.field)
        return cls(
            field=entry.field,
            old_value=view.apply(type_name, name, entry.old),
            new_value=view.apply(type_name, name, entry.new),
            subject_id=entry.subject_id,
            changed_by=entry.actor,
            source_system=entry.source_system,
            correlation_id=entry.correlation_id,
            reason=entry.reason,
            changed_at=entry.changed_at,
        )


@strawberry.type(description="An edge of the change history.")
class CustomerChangeEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read older changes.")
    node: CustomerChange = strawberry.field(description="The change.")


@strawberry.type(description="A customer's change history, newest first.")
class CustomerChangeConnection:
    edges: list[CustomerChangeEdge] = strawberry.field(description="This page of changes.")
    page_info: PageInfo = strawberry.field(description="Whether older changes follow.")

    @strawberry.field(description="This page's changes, without cursors.")
    def nodes(self) -> list[CustomerChange]:
        return [edge.node for edge in self.edges]


async def change_history(
    info: Info,
    customer_id: int,
    view: Visibility,
    first: int,
    after: str | None,
    fields: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> CustomerChangeConnection:
    check_first(first)
    before = decode_id_cursor(after)
    where = HistoryFilter(tuple(fields or ()), since, until)
    found = await info.context.history.changes(customer_id, where, before, first + 1)
    page, page_info = split_page(found, first, lambda e: e.id)
    return CustomerChangeConnection(
        edges=[
            CustomerChangeEdge(
                cursor=encode_cursor(str(e.id)), node=CustomerChange.from_domain(e, view)
            )
            for e in page
        ],
        page_info=page_info,
    )
