"""Registering a customer: a natural person or a company, with the identity documents and contact
points that identify them (客户识别), written whole or not at all.

The checks here are the one implementation: the GraphQL mutation calls them, and so will the
bulk import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from domain.customers.contacts import normalize_contact
from domain.customers.documents import normalize_document_number, resident_id_birth_date
from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    CustomerKind,
    DocumentType,
    Gender,
    IncomeBand,
    LifecycleStatus,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.source_keys import SourceKey
from domain.errors import InvalidInput, RuleViolation

MAX_NAME = 200
MAX_TEXT = 100
EARLIEST_BIRTH = date(1900, 1, 1)
PERSONAL_DOCUMENTS = frozenset({DocumentType.RESIDENT_ID, DocumentType.PASSPORT})


@dataclass(frozen=True, slots=True)
class NewDocument:
    type: DocumentType
    number: str
    issuing_country: str = "CN"


@dataclass(frozen=True, slots=True)
class NewContactPoint:
    kind: ContactKind
    value: str
    label: str | None = None
    preferred: bool = False


@dataclass(frozen=True, slots=True)
class NewPersonal:
    gender: Gender | None = None
    birth_date: date | None = None
    occupation: str | None = None
    employer: str | None = None
    income_band: IncomeBand | None = None
    asset_band: AssetBand | None = None


@dataclass(frozen=True, slots=True)
class NewCorporate:
    registered_name: str
    ownership_type: OwnershipType | None = None
    business_scale: BusinessScale | None = None
    industry: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    kind: CustomerKind
    display_name: str
    documents: tuple[NewDocument, ...]
    contact_points: tuple[NewContactPoint, ...] = ()
    personal: NewPersonal | None = None
    corporate: NewCorporate | None = None
    home_branch_id: int | None = None
    preferred_channel: PreferredChannel | None = None
    preferred_language: str | None = None
    source_key: SourceKey | None = None
    # A prospect (潜在客户) is registered before they hold a product: documents may follow.
    prospect: bool = False


class DuplicateDocument(RuleViolation):
    """The document already identifies another customer: the same person twice is for
    identity resolution to decide, never a second record silently."""

    code = "DUPLICATE_DOCUMENT"

    def __init__(self, field: str, holder_id: int) -> None:
        super().__init__("the document already identifies another customer")
        self.field = field
        self.holder_id = holder_id


def clean_text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(field, "required")
        return None
    text = " ".join(value.split())
    if not text:
        if required:
            raise InvalidInput(field, "required")
        return None
    if len(text) > limit:
        raise InvalidInput(field, f"at most {limit} characters")
    return text


def validate_new_customer(draft: NewCustomer, today: date, field: str = "input") -> NewCustomer:
    """The registration as it will be written, or InvalidInput naming the field at fault."""
    name = clean_text(draft.display_name, f"{field}.displayName", MAX_NAME, required=True)
    personal, corporate = draft.personal, draft.corporate
    if draft.kind is CustomerKind.PERSONAL:
        if personal is None or corporate is not None:
            raise InvalidInput(f"{field}.personal", "a personal customer has personal details only")
    elif corporate is None or personal is not None:
        raise InvalidInput(f"{field}.corporate", "a corporate customer has corporate details only")

    documents = []
    for n, document in enumerate(draft.documents):
        at = f"{field}.documents[{n}]"
        allowed = document.type in PERSONAL_DOCUMENTS
        if (draft.kind is CustomerKind.PERSONAL) != allowed:
            raise InvalidInput(
                f"{at}.type", f"a {draft.kind.value} customer has no {document.type.value}"
            )
        number = normalize_document_number(document.type, document.number, field=f"{at}.number")
        country = document.issuing_country.strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise InvalidInput(f"{at}.issuingCountry", "an ISO 3166 two-letter country code")
        documents.append(replace(document, number=number, issuing_country=country))
    if len({d.type for d in documents}) != len(documents):
        raise InvalidInput(f"{field}.documents", "one document of each type")
    kinds = {d.type for d in documents}
    if (
        draft.kind is CustomerKind.CORPORATE
        and DocumentType.UNIFIED_SOCIAL_CREDIT_CODE not in kinds
        and not draft.prospect
    ):
        raise InvalidInput(f"{field}.documents", "a corporate customer is identified by its USCC")
    if draft.kind is CustomerKind.PERSONAL and not kinds and not draft.prospect:
        raise InvalidInput(
            f"{field}.documents", "a person is identified by a resident ID or passport"
        )

    if personal is not None:
        birth = personal.birth_date
        at = f"{field}.personal.birthDate"
        if birth is not None and not EARLIEST_BIRTH <= birth <= today:
            raise InvalidInput(at, "the birth date is not a possible one")
        resident = next((d for d in documents if d.type is DocumentType.RESIDENT_ID), None)
        if resident is not None:
            encoded = resident_id_birth_date(resident.number)
            if birth is None:
                birth = encoded  # the resident ID says it
            elif birth != encoded:
                raise InvalidInput(at, "the birth date is not the one in the resident ID")
        personal = replace(
            personal,
            birth_date=birth,
            occupation=clean_text(personal.occupation, f"{field}.personal.occupation", MAX_TEXT),
            employer=clean_text(personal.employer, f"{field}.personal.employer", MAX_NAME),
        )
    if corporate is not None:
        corporate = replace(
            corporate,
            registered_name=clean_text(
                corporate.registered_name,
                f"{field}.corporate.registeredName",
                MAX_NAME,
                required=True,
            )
            or "",
            industry=clean_text(corporate.industry, f"{field}.corporate.industry", MAX_TEXT),
        )

    contacts = []
    preferred: set[ContactKind] = set()
    for n, point in enumerate(draft.contact_points):
        at = f"{field}.contactPoints[{n}]"
        value = normalize_contact(point.kind, point.value, field=f"{at}.value")
        if point.preferred:
            if point.kind in preferred:
                raise InvalidInput(f"{at}.preferred", "one preferred contact point of each kind")
            preferred.add(point.kind)
        label = clean_text(point.label, f"{at}.label", 30)
        contacts.append(replace(point, value=value, label=label))
    language = clean_text(draft.preferred_language, f"{field}.preferredLanguage", 35)
    return replace(
        draft,
        display_name=name or "",
        personal=personal,
        corporate=corporate,
        documents=tuple(documents),
        contact_points=tuple(contacts),
        preferred_language=language,
    )


@dataclass(frozen=True, slots=True)
class Registered:
    customer_id: int
    replayed: bool  # the source key named this customer already: nothing was written


class RegistrationUnitOfWork(MasterDataTransaction, Protocol):
    """What registering a customer reads and writes, in one transaction."""

    async def customer_of(self, key: SourceKey) -> int | None:
        """The customer the source key names, or None (locked for this transaction)."""
        ...

    async def branch_exists(self, branch_id: int) -> bool:
        """Whether the branch exists and is not retired (no new customers for it)."""
        ...

    async def document_holders(self, documents: Sequence[NewDocument]) -> dict[int, int]:
        """Which of the documents (by position) identify a customer already: position → id."""
        ...

    async def add_customer(self, customer: NewCustomer, actor: str) -> int:
        """Write the customer, its documents, contact points and source key; its id."""
        ...


async def register_customer(
    uow_factory: Callable[[], RegistrationUnitOfWork],
    draft: NewCustomer,
    author: Author,
    today: date,
) -> Registered:
    """Register a customer whole, or nothing: validated first, then refused when a document
    already identifies someone; a source key seen before replays the customer it names."""
    customer = validate_new_customer(draft, today)
    async with uow_factory() as uow:
        if customer.source_key is not None:
            existing = await uow.customer_of(customer.source_key)
            if existing is not None:
                return Registered(existing, replayed=True)
        if customer.home_branch_id is not None and not await uow.branch_exists(
            customer.home_branch_id
        ):
            raise InvalidInput("input.homeBranchId", "no such branch, or it is retired")
        holders = await uow.document_holders(customer.documents)
        if holders:
            position, holder = min(holders.items())
            raise DuplicateDocument(f"input.documents[{position}].number", holder)
        customer_id = await uow.add_customer(customer, author.actor)
        status = LifecycleStatus.PROSPECT if customer.prospect else LifecycleStatus.ACTIVE
        await uow.record_changes(
            customer_id, [FieldChange.of("lifecycleStatus", None, status)], author, bump=False
        )
        await uow.emit(customer_id, "customer.registered", {"customerId": customer_id})
        await uow.commit()
    return Registered(customer_id, replayed=False)
