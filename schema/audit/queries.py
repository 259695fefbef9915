"""auditTrail: who read a customer's personal data, for compliance."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id, encode_id
from schema.audit.types import AuditRecord, AuditRecordConnection
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.core.pagination import PageInfo, check_first, decode_id_cursor, edges, encode_cursor


@strawberry.type
class AccessQueries:
    @strawberry.field(description="Who read this customer's personal data (compliance only).")
    async def audit_trail(
        self, info: Info, customer_id: strawberry.ID, first: int, after: str | None = None
    ) -> AuditRecordConnection:
        try:
            require(info, "auditTrail")
            check_first(first)
            pk = decode_typed_id(customer_id, "Customer", field="customerId")
            before = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        page = await info.context.audit_log.trail(pk, first, before)
        nodes = [
            AuditRecord(
                id=strawberry.ID(str(r.id)),
                occurred_at=r.entry.occurred_at,
                subject=r.entry.subject,
                role=r.entry.role,
                channel=r.entry.channel,
                purpose=r.entry.purpose,
                operation=r.entry.operation,
                customer_ids=[
                    strawberry.ID(encode_id("Customer", c)) for c in r.entry.customer_ids
                ],
                fields=list(r.entry.fields),
                outcome=r.entry.outcome,
                correlation_id=r.entry.correlation_id,
            )
            for r in page.items
        ]
        return AuditRecordConnection(
            edges=edges(nodes, lambda r: r.id),
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=encode_cursor(str(page.items[-1].id)) if page.items else None,
                start_cursor=encode_cursor(str(page.items[0].id)) if page.items else None,
            ),
        )
