"""Counter sessions in GraphQL: a teller verifies a customer's document and serves them in clear."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import strawberry

from domain.access.counter_sessions import VerificationLocked
from domain.customers.model import DocumentType
from schema.core.context import Info
from schema.core.errors import (
    Error,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
)
from schema.core.read_audit import AuditUnavailable

log = logging.getLogger(__name__)


@strawberry.type(description="A verified counter session: the teller sees this customer in clear.")
class CounterSession:
    customer_id: strawberry.ID = strawberry.field(description="The customer being served.")
    opened_at: datetime = strawberry.field(description="When the identity was verified.")
    idle_expires_at: datetime = strawberry.field(
        description="When the session ends unless used again (each use extends it)."
    )
    expires_at: datetime = strawberry.field(description="Absolute end; no use extends it.")


@strawberry.type(description="The document shown does not belong to this customer.")
class IdentityNotVerifiedError(Error):
    pass


@strawberry.type(
    description="Too many documents shown for this customer did not match: this teller is "
    "locked out of verifying them for `retryAfter` seconds."
)
class CounterVerificationLockedError(Error):
    retry_after: int = strawberry.field(description="Seconds until this teller may try again.")


OpenCounterSessionResult = Annotated[
    CounterSession
    | IdentityNotVerifiedError
    | CounterVerificationLockedError
    | RuleViolationError
    | NotFoundError
    | InvalidInputError
    | ForbiddenError,
    strawberry.union(
        "OpenCounterSessionResult", description="The session, or why it was not opened."
    ),
]


@strawberry.input(description="Verify a customer's identity at the counter.")
class OpenCounterSessionInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer being served.")
    document_type: DocumentType = strawberry.field(description="Type of the document shown.")
    document_number: str = strawberry.field(description="Number of the document shown.")


@strawberry.type(description="Result of closing a counter session.")
class CloseCounterSessionPayload:
    closed: bool = strawberry.field(description="False when no session was open.")


CloseCounterSessionResult = Annotated[
    CloseCounterSessionPayload | InvalidInputError | ForbiddenError,
    strawberry.union("CloseCounterSessionResult", description="Closed, or why not."),
]


def _locked(error: VerificationLocked) -> CounterVerificationLockedError:
    return CounterVerificationLockedError(
        code=error.code, message=error.message, retry_after=error.retry_after
    )


async def _audit_attempt(info: Info, customer_id: int, outcome: str) -> None:
    """Every document shown at the counter leaves a record, matched or not: a teller trying
    numbers is visible in the trail. Without the record, nothing happens."""
    context = info.context
    entry = context.audit_entry(context.audit.operation, (customer_id,), (), outcome)
    try:
        await context.audit_log.record(entry)
    except Exception as exc:
        log.exception("a counter verification could not be audited; refused")
        raise UserFacingError(AuditUnavailable(context.correlation_id)) from exc
