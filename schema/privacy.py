"""Consents, legal holds and erasure in GraphQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import strawberry

from domain.access.policy import FIELD_POLICIES, Outcome
from domain.access.principal import Role
from domain.errors import DomainError, InvalidInput, NotFound
from domain.ids import decode_typed_id, encode_id
from domain.privacy.consents import Consent as ConsentModel
from domain.privacy.consents import ConsentChannel, ConsentPurpose, may_record_consent
from domain.privacy.erasure import DataCategory, erase_personal_data, validate_hold
from schema.core.access import Forbidden, in_counter_session, require
from schema.core.context import Info
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError, error_type

strawberry.enum(ConsentPurpose, description="What the customer's data may be used for.")
strawberry.enum(ConsentChannel, description="Channel a consent applies to; ALL for every one.")
strawberry.enum(DataCategory, description="A category of personal data, for erasure and holds.")


@strawberry.type(description="The current answer for one purpose and channel (opt-in).")
class Consent:
    purpose: ConsentPurpose = strawberry.field(description="What the data may be used for.")
    channel: ConsentChannel = strawberry.field(description="Where; ALL for every channel.")
    granted: bool = strawberry.field(description="True when the customer agreed.")
    version: int = strawberry.field(description="1 for the first answer, +1 per change.")
    recorded_at: datetime = strawberry.field(description="When this answer was recorded.")
    source: str = strawberry.field(description="Where it was given (channel).")
    actor: str | None = strawberry.field(description="Who recorded it; staff only.")

    @classmethod
    def from_domain(cls, consent: ConsentModel, show_actor: bool) -> Consent:
        return cls(
            purpose=consent.purpose,
            channel=consent.channel,
            granted=consent.granted,
            version=consent.version,
            recorded_at=consent.recorded_at,
            source=consent.source,
            actor=consent.actor if show_actor else None,
        )


@strawberry.input(description="Record the customer's answer for a purpose and channel.")
class SetConsentInput:
    purpose: ConsentPurpose = strawberry.field(description="What the data may be used for.")
    channel: ConsentChannel = strawberry.field(description="Where; ALL for every channel.")
    granted: bool = strawberry.field(description="The customer's answer.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Staff recording on the customer's behalf name the customer; a customer "
        "changes only their own consents and leaves this out.",
    )


SetConsentResult = Annotated[
    Consent | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("SetConsentResult", description="The recorded consent, or why not."),
]


@strawberry.type(description="Records kept under legal retention until a date.")
class LegalHold:
    category: DataCategory | None = strawberry.field(description="Kept category; null: all.")
    reason: str = strawberry.field(description="The legal ground for keeping the records.")
    until: date = strawberry.field(description="Last day of the retention.")


@strawberry.input(description="Keep a customer's records under legal retention.")
class PlaceLegalHoldInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    category: DataCategory | None = strawberry.field(
        default=None, description="The category kept; leave out to keep every category."
    )
    reason: str = strawberry.field(description="The legal ground, e.g. AML retention.")
    until: date = strawberry.field(description="Last day of the retention.")


PlaceLegalHoldResult = Annotated[
    LegalHold | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("PlaceLegalHoldResult", description="The hold, or why not."),
]


@strawberry.type(description="A category kept by a legal hold instead of being erased.")
class KeptCategory:
    category: DataCategory = strawberry.field(description="The category kept.")
    hold: LegalHold = strawberry.field(description="The hold that keeps it.")


@strawberry.type(description="What erasure anonymized and what legal holds kept.")
class ErasurePayload:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    erased: list[DataCategory] = strawberry.field(description="Categories anonymized.")
    kept: list[KeptCategory] = strawberry.field(description="Categories kept, and why.")
    already_erased: bool = strawberry.field(description="True when erased before (idempotent).")


EraseResult = Annotated[
    ErasurePayload | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("EraseCustomerPersonalDataResult", description="The report, or why not."),
]


@strawberry.type
class PrivacyMutations:
    @strawberry.mutation(description="Give or withdraw consent for a purpose and channel.")
    async def set_consent(self, info: Info, input: SetConsentInput) -> SetConsentResult:
        principal = info.context.principal
        try:
            require(info, "setConsent")
            if principal.role is Role.CUSTOMER:
                assert principal.customer_id is not None
                pk = principal.customer_id
                if (
                    input.customer_id is not None
                    and decode_typed_id(input.customer_id, "Customer", field="customerId") != pk
                ):
                    raise Forbidden("a customer changes only their own consents")
            else:
                if input.customer_id is None:
                    raise InvalidInput("customerId", "name the customer you record for")
                pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            customer = await info.context.loaders.customer_by_id.load(pk)
            if customer is None:
                raise NotFound("customer", str(input.customer_id or "me"))
            if not may_record_consent(
                principal.role,
                is_own=principal.customer_id == pk,
                is_portfolio=principal.rm_id is not None
                and principal.rm_id == customer.relationship_manager_id,
                in_counter_session=principal.role is Role.TELLER
                and await in_counter_session(info, pk),
            ):
                raise Forbidden(
                    "a teller records consent inside a verified counter session, an RM for "
                    "their own portfolio"
                )
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
