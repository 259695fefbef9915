"""The read audit trail in GraphQL: what compliance reads of who read what."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.core.pagination import Edge, PageInfo


@strawberry.type(description="One read of personal data, as the audit recorded it.")
class AuditRecord:
    id: strawberry.ID = strawberry.field(description="Audit record id.")
    occurred_at: datetime = strawberry.field(description="When the data was returned.")
    subject: str = strawberry.field(description="Who read it (token subject).")
    role: str = strawberry.field(description="The reader's role.")
    channel: str = strawberry.field(description="Channel header of the request.")
    purpose: str = strawberry.field(description="Purpose header of the request.")
    operation: str | None = strawberry.field(description="GraphQL operation name, if any.")
    customer_ids: list[strawberry.ID] = strawberry.field(description="Customers returned.")
    fields: list[str] = strawberry.field(
        description="Personal-data fields returned, as Type.field:clear|masked."
    )
    outcome: str = strawberry.field(description="returned, denied or failed.")
    correlation_id: str = strawberry.field(description="The request's correlation id.")


@strawberry.type(description="A page of audit records, newest first.")
class AuditRecordConnection:
    edges: list[Edge[AuditRecord]] = strawberry.field(description="This page, with cursors.")
    nodes: list[AuditRecord] = strawberry.field(description="Records on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
