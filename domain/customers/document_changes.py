"""Keeping a customer's identity documents current: add one, replace a renewed one's number,
record that one expired. Validated as at registration (checksum, USCC, passport shape); a
document that identifies someone else is DUPLICATE_DOCUMENT, never a second holder.

The history keeps document numbers masked only: the numbers themselves stay sealed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from domain.access.masking import mask_document
from domain.access.principal import Role
from domain.customers.documents import normalize_document_number, resident_id_birth_date
from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import Customer, CustomerKind, DocumentType, IdentityDocument
from domain.customers.registration import PERSONAL_DOCUMENTS, DuplicateDocument
from domain.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class DocumentEdit:
    """Add (no `document_id`: type and number given), or replace the number / set the expiry
    of one on file."""

    customer_id: int
    document_id: int | None = None
    type: DocumentType | None = None
    number: str | None = None
    issuing_country: str | None = None
    expires_on: date | None = None


def may_change_documents(role: Role, related: bool, keyed_by_caller: bool) -> bool:
    """Who may keep identity documents: as for the record (stewards and admins, the RM of the
    portfolio, an integration of a customer keyed by its system), and a teller in a verified
    counter session — the one who has the document in hand."""
    match role:
        case Role.STEWARD | Role.ADMIN:
            return True
        case Role.RELATIONSHIP_MANAGER | Role.TELLER:
            return related
        case Role.INTEGRATION:
            return keyed_by_caller
        case _:
            return False


class DocumentUnitOfWork(MasterDataTransaction, Protocol):
    async def customer_for_update(self, customer_id: int) -> Customer:
        """The record, locked until the commit; NotFound when there is none."""
        ...

    async def documents_of(self, customer_id: int) -> list[IdentityDocument]:
        """The customer's documents, numbers opened."""
        ...

    async def holder_of(self, type: DocumentType, number: str) -> int | None:
        """The customer the document identifies, if any."""
        ...

    async def add_document(self, customer_id: int, document: IdentityDocument) -> int: ...

    async def save_document(self, document: IdentityDocument) -> None: ...


def _country(value: str | None, current: str) -> str:
    if value is None:
        return current
    country = value.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("input.issuingCountry", "an ISO 3166 two-letter country code")
    return country


def _masked(document: IdentityDocument | None) -> str | None:
    return None if document is None else mask_document(document.type.value, document.number)


def _check_birth(customer: Customer, document: IdentityDocument) -> None:
    """A resident ID encodes the birth date: it must be the one on the record."""
    if document.type is not DocumentType.RESIDENT_ID or customer.personal is None:
        return
    birth = customer.personal.birth_date
    if birth is not None and resident_id_birth_date(document.number) != birth:
        raise InvalidInput("input.number", "the resident ID encodes another birth date")


async def edit_documents(
    uow_factory: Callable[[], DocumentUnitOfWork],
    edit: DocumentEdit,
    author: Author,
    today: date,
) -> IdentityDocument:
    """Apply one edit whole or not at all; the document as it is now."""
    async with uow_factory() as uow:
        customer = await uow.customer_for_update(edit.customer_id)
        documents = await uow.documents_of(customer.id)
        before: IdentityDocument | None
        if edit.document_id is None:
            if edit.type is None or edit.number is None:
                raise InvalidInput("input.number", "a new document has a type and a number")
            if (customer.kind is CustomerKind.PERSONAL) != (edit.type in PERSONAL_DOCUMENTS):
                raise InvalidInput(
                    "input.type", f"a {customer.kind.value} customer has no {edit.type.value}"
                )
            if any(d.type is edit.type for d in documents):
                raise InvalidInput("input.type", "one of this type is on file: replace it")
            before = None
            after = IdentityDocument(0, customer.id, edit.type, "", "CN", None)
        else:
            before = next((d for d in documents if d.id == edit.document_id), None)
            if before is None:
                raise NotFound("identity document", str(edit.document_id))
            after = before
        if edit.number is not None:
            number = normalize_document_number(after.type, edit.number, field="input.number")
            after = replace(after, number=number)
        after = replace(
            after,
            issuing_country=_country(edit.issuing_country, after.issuing_country),
            expires_on=edit.expires_on if edit.expires_on is not None else after.expires_on,
        )
        if after.expires_on is not None and before is None and after.expires_on < today:
            raise InvalidInput("input.expiresOn", "a document added must still be valid")
        if before is None or after.number != before.number:
            holder = await uow.holder_of(after.type, after.number)
            if holder is not None and holder != customer.id:
                raise DuplicateDocument("input.number", holder)
            if holder == customer.id and before is not None:
                raise InvalidInput("input.number", "already on file")
            _check_birth(customer, after)
        if after == before:
            return after  # nothing to change: no new version, nothing announced
        if before is None:
            after = replace(after, id=await uow.add_document(customer.id, after))
        else:
            await uow.save_document(after)
        changes = []
        if before is None or before.number != after.number:
            # Two numbers can look alike masked: whether it changed is decided on the clear ones.
            changes.append(
                FieldChange("documents.number", _masked(before), _masked(after), after.id)
            )
        changes += [
            FieldChange.of(f"documents.{name}", old, new, after.id)
            for name, old, new in (
                ("issuingCountry", before and before.issuing_country, after.issuing_country),
                ("expiresOn", before and before.expires_on, after.expires_on),
            )
            if old != new
        ]
        await uow.record_changes(customer.id, changes, author)
        await uow.emit(
            customer.id, "customer.changed", {"customerId": customer.id, "part": "documents"}
        )
        await uow.commit()
    return after
