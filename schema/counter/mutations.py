"""openCounterSession / closeCounterSession: verify a document, then serve in clear."""

from __future__ import annotations

import strawberry

from domain.access.counter_sessions import (
    CounterSessionUnavailable,
    OneVerificationPerRequest,
    VerificationLocked,
)
from domain.customers.documents import normalize_document_number
from domain.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from domain.ids import decode_typed_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
)
from schema.counter.types import (
    CloseCounterSessionPayload,
    CloseCounterSessionResult,
    CounterSession,
    IdentityNotVerifiedError,
    OpenCounterSessionInput,
    OpenCounterSessionResult,
    _audit_attempt,
    _locked,
)


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
        try:
            return await _verify(info, input, teller, pk, number)
        except CounterSessionUnavailable as exc:
            # Whether this teller is locked out cannot be known, nor a session kept: refused
            # (503) rather than verified without the lockout's protection.
            raise UserFacingError(exc) from exc

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
        try:
            closed = await info.context.counter_sessions.close(info.context.principal.subject, pk)
        except CounterSessionUnavailable as exc:
            raise UserFacingError(exc) from exc
        info.context.sessions_checked.pop(pk, None)
        return CloseCounterSessionPayload(closed=closed)


async def _verify(
    info: Info, input: OpenCounterSessionInput, teller: str, pk: int, number: str
) -> OpenCounterSessionResult:
    """The lockout, the document and the session, once the request is known to be valid."""
    context = info.context
    loaders = context.loaders
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
