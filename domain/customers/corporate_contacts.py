"""The people who act for a company (authorised contacts: 财务负责人, 授权签字人…), each a
personal customer, added and removed with the record's history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import Customer, CustomerKind
from domain.customers.registration import clean_text
from domain.errors import InvalidInput, NotFound
from domain.ids import encode_id

MAX_ROLE = 50


@dataclass(frozen=True, slots=True)
class ContactEdit:
    corporate_id: int
    person_id: int
    role: str
    remove: bool = False


class CorporateContactUnitOfWork(MasterDataTransaction, Protocol):
    async def customer_for_update(self, customer_id: int) -> Customer: ...

    async def kind_of(self, customer_id: int) -> CustomerKind | None: ...

    async def has_corporate_contact(self, corporate_id: int, person_id: int, role: str) -> bool: ...

    async def add_corporate_contact(self, corporate_id: int, person_id: int, role: str) -> None: ...

    async def remove_corporate_contact(
        self, corporate_id: int, person_id: int, role: str
    ) -> None: ...


async def edit_corporate_contacts(
    uow_factory: Callable[[], CorporateContactUnitOfWork], edit: ContactEdit, author: Author
) -> bool:
    """Add or remove one person in one role; False when nothing changed (already so)."""
    role = clean_text(edit.role, "input.role", MAX_ROLE, required=True) or ""
    async with uow_factory() as uow:
        company = await uow.customer_for_update(edit.corporate_id)
        if company.kind is not CustomerKind.CORPORATE:
            raise InvalidInput("input.corporateId", "contacts act for a corporate customer")
        exists = await uow.has_corporate_contact(company.id, edit.person_id, role)
        label = f"{role}: {encode_id('Customer', edit.person_id)}"
        if edit.remove:
            if not exists:
                raise NotFound("corporate contact", label)
            await uow.remove_corporate_contact(company.id, edit.person_id, role)
            change = FieldChange("corporate.contacts", label, None, edit.person_id)
        else:
            if await uow.kind_of(edit.person_id) is not CustomerKind.PERSONAL:
                raise InvalidInput("input.personId", "a contact is a personal customer")
            if exists:
                return False
            await uow.add_corporate_contact(company.id, edit.person_id, role)
            change = FieldChange("corporate.contacts", None, label, edit.person_id)
        await uow.record_changes(company.id, [change], author)
        await uow.emit(
            company.id, "customer.changed", {"customerId": company.id, "part": "corporateContacts"}
        )
        await uow.commit()
    return True
