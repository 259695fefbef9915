"""The read audit, written where every transport passes: after each execution and before each
subscription event leaves.

HTTP requests, queries and mutations sent over the websocket and every event of a
subscription run through the schema's extensions, so the audit is written here, once, for
all of them. The HTTP fast lane of registered profiles (api/http/graphql_view.py), which skips
execution, calls the same `write_read_audit`. When the record cannot be written the data is
withheld: the result carries AUDIT_UNAVAILABLE instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from domain.errors import DomainError
from schema.core.context import Context
from schema.core.errors import UserFacingError

log = logging.getLogger(__name__)


class AuditUnavailable(DomainError):
    """Personal data never leaves without its audit record."""

    code = "AUDIT_UNAVAILABLE"

    def __init__(self, correlation_id: str) -> None:
        super().__init__("The request could not be completed. Quote the correlation id.")
        self.correlation_id = correlation_id

    def details(self) -> dict[str, object]:
        return {"correlationId": self.correlation_id}


async def write_read_audit(context: Context, returned: bool, outcome: str | None = None) -> bool:
    """Write one record of what the collector saw. False when it could not be written:
    withhold the data then.

    `returned` says whether data reached the caller; `outcome` overrides the recorded outcome
    ("subscribed" when a subscription starts)."""
    audit = context.audit
    if not (audit.seen or audit.denied):
        return True
    shown = bool(audit.seen) and returned
    entry = context.audit_entry(
        audit.operation,
        tuple(sorted(set(audit.seen) | audit.denied)),
        audit.fields() if shown else (),
        outcome or ("returned" if shown else "denied"),
    )
    try:
        await context.audit_log.record(entry)
    except Exception:
        log.exception("the read audit could not be written; the data is withheld")
        return False
    return True


def _withheld(context: Context) -> UserFacingError:
    return UserFacingError(AuditUnavailable(context.correlation_id))


class ReadAudit(SchemaExtension):
    """Writes the read audit of every operation and every subscription event."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ec = self.execution_context
        context = ec.context
        # A subscription's execution only starts its stream: its events are audited one by one
        # in `on_stream_result`.
        if not isinstance(context, Context) or ec.operation_type is OperationType.SUBSCRIPTION:
            return
        result = ec.result
        returned = isinstance(result, GraphQLResult) and result.data is not None
        if not await write_read_audit(context, returned) and isinstance(result, GraphQLResult):
            result.data = None
            result.errors = [_withheld(context)]

    async def on_stream_result(self, result: ExecutionResult) -> AsyncIterator[None]:  # type: ignore[override]
        ec = self.execution_context
        context = ec.context
        if isinstance(context, Context) and ec.operation_type is OperationType.SUBSCRIPTION:
            written = await write_read_audit(context, result.data is not None)
            context.audit.reset()  # each event is audited on its own
            if not written:
                result.data = None
                result.errors = [_withheld(context)]
        yield
