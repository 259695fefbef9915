"""Consents, legal holds and erasure in GraphQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from domain.privacy.consents import Consent as ConsentModel
from domain.privacy.consents import ConsentChannel, ConsentPurpose
from domain.privacy.erasure import DataCategory
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError

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
