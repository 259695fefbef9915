"""Counter sessions and the read audit trail, in GraphQL."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import strawberry

from domain.access.counter_sessions import OneVerificationPerRequest, VerificationLocked
from domain.customers.documents import normalize_document_number
from domain.customers.model import DocumentType
from domain.errors import DomainError, InvalidInput, NotFound, RuleViolation
from domain.ids import decode_typed_id, encode_id
from schema.core.access import Forbidden, require
from schema.core.context import Info
from schema.core.errors import (
    Error,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
)
from schema.core.pagination import PageInfo, check_first, decode_id_cursor, encode_cursor
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
    nodes: list[AuditRecord] = strawberry.field(description="Records on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


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
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=encode_cursor(str(page.items[-1].id)) if page.items else None,
            ),
        )


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


@strawberry.type
class AccessMutations:
    @strawberry.mutation(
        description="Verify the customer's identity document at the counter and open a "
        "session in which this teller sees the customer's data in clear. One document per "
        "request; every attempt is audited; after 5 documents that do not match, this teller "
        "is locked out of this customer for 15 minutes (COUNTER_VERIFICATION_LOCKED)."
    )
    async def open_counter_session(
        self, info: Info, input: OpenCounterSessionInput
    ) -> OpenCounterSessionResult:
        context = info.context
        teller = context.principal.subject
        try:
            require(info, "openCounterSession")
            # One document per request, whatever the aliases: the first is tried, the rest
            # are refused before they are looked at.
            if context.verified_documents:
                raise OneVerificationPerRequest
            context.verified_documents += 1
            pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            number = normalize_document_number(
                input.document_type, input.document_number, field="documentNumber"
            )
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
        except InvalidInput as exc:
            return InvalidInputError.from_domain(exc)
        except RuleViolation as exc:
            return RuleViolationError.from_domain(exc)
        loaders = context.loaders
        if await loaders.customer_by_id.load(pk) is None:
            return NotFoundError.from_domain(NotFound("customer", input.customer_id))
        locked = await context.counter_sessions.locked_for(teller, pk)
        if locked:
            await _audit_attempt(info, pk, "locked_out")
            return _locked(VerificationLocked(locked))
        holder = await loaders.customer_id_by_document.load((input.document_type, number))
        if holder != pk:
            locked = await context.counter_sessions.failed(teller, pk)
            await _audit_attempt(info, pk, "mismatch")
            if locked:
                return _locked(VerificationLocked(locked))
            return IdentityNotVerifiedError(
                code="IDENTITY_NOT_VERIFIED",
                message="the document shown does not belong to this customer",
            )
        # Recorded before the session opens: no record, no session.
        await _audit_attempt(info, pk, "verified")
        session = await context.counter_sessions.open(teller, pk)
        return CounterSession(
            customer_id=input.customer_id,
            opened_at=session.opened_at,
            idle_expires_at=session.idle_expires_at,
            expires_at=session.expires_at,
        )

    @strawberry.mutation(description="End the teller's counter session with the customer.")
    async def close_counter_session(
        self, info: Info, customer_id: strawberry.ID
    ) -> CloseCounterSessionResult:
        try:
            require(info, "closeCounterSession")
            pk = decode_typed_id(customer_id, "Customer", field="customerId")
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
        except InvalidInput as exc:
            return InvalidInputError.from_domain(exc)
        closed = await info.context.counter_sessions.close(info.context.principal.subject, pk)
        info.context.sessions_checked.pop(pk, None)
        return CloseCounterSessionPayload(closed=closed)
