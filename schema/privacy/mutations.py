"""setConsent, placeLegalHold, eraseCustomerPersonalData."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.access.policy import FIELD_POLICIES, Outcome
from domain.access.principal import Role
from domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from domain.ids import decode_typed_id, encode_id
from domain.privacy.consents import may_record_consent
from domain.privacy.erasure import erase_personal_data, validate_hold
from schema.core.access import in_counter_session, require
from schema.core.context import Info
from schema.core.errors import error_type
from schema.privacy.types import (
    Consent,
    EraseResult,
    ErasurePayload,
    KeptCategory,
    LegalHold,
    PlaceLegalHoldInput,
    PlaceLegalHoldResult,
    SetConsentInput,
    SetConsentResult,
)


async def consent_subject(info: Info, customer_id: strawberry.ID | None) -> int:
    """The customer whose consent (or do-not-contact entry) the caller records: a customer
    themselves; the call center for whoever calls (identified before the agent took the
    call); a teller only inside a verified counter session; an RM for their own portfolio."""
    principal = info.context.principal
    if principal.role is Role.CUSTOMER:
        assert principal.customer_id is not None
        pk = principal.customer_id
        if (
            customer_id is not None
            and decode_typed_id(customer_id, "Customer", field="customerId") != pk
        ):
            raise Forbidden("a customer changes only their own consents")
    else:
        if customer_id is None:
            raise InvalidInput("customerId", "name the customer you record for")
        pk = decode_typed_id(customer_id, "Customer", field="customerId")
    customer = await info.context.loaders.customer_by_id.load(pk)
    if customer is None:
        raise NotFound("customer", str(customer_id or "me"))
    if not may_record_consent(
        principal.role,
        is_own=principal.customer_id == pk,
        is_portfolio=principal.rm_id is not None
        and principal.rm_id == customer.relationship_manager_id,
        in_counter_session=principal.role is Role.TELLER and await in_counter_session(info, pk),
    ):
        raise Forbidden(
            "a teller records consent inside a verified counter session, an RM for "
            "their own portfolio"
        )
    return pk


@strawberry.type
class PrivacyMutations:
    @strawberry.mutation(description="Give or withdraw consent for a purpose and channel.")
    async def set_consent(self, info: Info, input: SetConsentInput) -> SetConsentResult:
        principal = info.context.principal
        try:
            require(info, "setConsent")
            pk = await consent_subject(info, input.customer_id)
        except DomainError as exc:
            return error_type(exc)
        consent = await info.context.consent_book.record(
            pk,
            input.purpose,
            input.channel,
            input.granted,
            source=info.context.channel,
            actor=principal.subject,
        )
        actor = FIELD_POLICIES["Consent"]["actor"].outcome(principal.role, related=True)
        return Consent.from_domain(consent, show_actor=actor is not Outcome.HIDDEN)

    @strawberry.mutation(description="Keep a customer's records under legal retention.")
    async def place_legal_hold(
        self, info: Info, input: PlaceLegalHoldInput
    ) -> PlaceLegalHoldResult:
        today = datetime.now(UTC).date()
        try:
            require(info, "placeLegalHold")
            pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            reason = validate_hold(input.reason, input.until, today)
            if await info.context.privacy.subject(pk) is None:
                raise NotFound("customer", input.customer_id)
        except DomainError as exc:
            return error_type(exc)
        hold = await info.context.privacy.place_hold(
            pk, input.category, reason, input.until, info.context.principal.subject
        )
        return LegalHold(category=hold.category, reason=hold.reason, until=hold.until)

    @strawberry.mutation(
        description="Anonymize a natural person's personal data (profile, contact points, "
        "documents, interaction texts), except categories under an active legal hold, which "
        "are kept and reported. Audited; repeating it is harmless."
    )
    async def erase_customer_personal_data(
        self, info: Info, customer_id: strawberry.ID
    ) -> EraseResult:
        context = info.context
        try:
            require(info, "eraseCustomerPersonalData")
            pk = decode_typed_id(customer_id, "Customer", field="customerId")
            report = await erase_personal_data(context.privacy, pk, datetime.now(UTC).date())
        except DomainError as exc:
            return error_type(exc)
        await context.audit_log.record(
            context.audit_entry(
                "eraseCustomerPersonalData",
                (pk,),
                tuple(f"erased:{c.value}" for c in report.erased)
                + tuple(f"kept:{c.value}" for c, _ in report.kept),
                "erased",
            )
        )
        return ErasurePayload(
            customer_id=strawberry.ID(encode_id("Customer", pk)),
            erased=list(report.erased),
            kept=[
                KeptCategory(
                    category=c,
                    hold=LegalHold(category=h.category, reason=h.reason, until=h.until),
                )
                for c, h in report.kept
            ],
            already_erased=report.already_erased,
        )
