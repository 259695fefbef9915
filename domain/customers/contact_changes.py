"""Keeping a customer's contact points current: add, change, remove, prefer, verify.

Who may: the customer (their own, from the app; what they add or change stays unverified until
the bank verifies it), the call center, a teller inside a verified counter session, the
customer's RM, an admin. Verifying is the bank's: staff only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from domain.access.principal import Role
from domain.customers.contacts import normalize_contact
from domain.customers.model import ContactKind, ContactPoint
from domain.errors import InvalidInput, NotFound
from domain.transaction import Transaction

MAX_LABEL = 30


def may_change_contacts(role: Role, related: bool) -> bool:
    """`related`: the caller's own profile, their portfolio, a counter session with them."""
    match role:
        case Role.AGENT | Role.ADMIN:
            return True
        case Role.CUSTOMER | Role.TELLER | Role.RELATIONSHIP_MANAGER:
            return related
        case _:
            return False


def may_verify_contacts(role: Role, related: bool) -> bool:
    return role is not Role.CUSTOMER and may_change_contacts(role, related)


@dataclass(frozen=True, slots=True)
class ContactEdit:
    """What to do: add (no `contact_point_id`), or change / remove / prefer / verify one."""

    customer_id: int
    contact_point_id: int | None = None
    kind: ContactKind | None = None
    value: str | None = None
    label: str | None = None
    preferred: bool | None = None
    verify: bool = False
    remove: bool = False


class ContactUnitOfWork(Transaction, Protocol):
    async def contact_points_for_update(self, customer_id: int) -> list[ContactPoint]:
        """The customer's contact points, locked; NotFound when there is no such customer."""
        ...

    async def add_contact_point(
        self, customer_id: int, kind: ContactKind, value: str, label: str | None
    ) -> int: ...

    async def save_contact_point(self, point: ContactPoint) -> None: ...

    async def remove_contact_point(self, contact_point_id: int) -> None: ...


def _label(label: str | None) -> str | None:
    if label is None:
        return None
    text = " ".join(label.split())
    if len(text) > MAX_LABEL:
        raise InvalidInput("input.label", f"at most {MAX_LABEL} characters")
    return text or None


async def edit_contact_points(
    uow_factory: Callable[[], ContactUnitOfWork], edit: ContactEdit, verified_by_bank: bool
) -> None:
    """Apply one edit in one transaction; at most one preferred contact point per kind stays.
    `verified_by_bank`: the caller is staff (a customer's own edit stays unverified)."""
    async with uow_factory() as uow:
        points = await uow.contact_points_for_update(edit.customer_id)
        if edit.contact_point_id is None:
            if edit.kind is None or edit.value is None:
                raise InvalidInput("input.value", "a new contact point has a kind and a value")
            value = normalize_contact(edit.kind, edit.value, field="input.value")
            if any(p.kind is edit.kind and p.value == value for p in points):
                raise InvalidInput("input.value", "already on file")
            label = _label(edit.label)
            new_id = await uow.add_contact_point(edit.customer_id, edit.kind, value, label)
            points.append(
                ContactPoint(new_id, edit.customer_id, edit.kind, value, label, False, False)
            )
            target_id = new_id
        else:
            target_id = edit.contact_point_id
        target = next((p for p in points if p.id == target_id), None)
        if target is None:
            raise NotFound("contact point", str(target_id))
        if edit.remove:
            await uow.remove_contact_point(target.id)
        else:
            changed = target
            if edit.value is not None and edit.contact_point_id is not None:
                value = normalize_contact(target.kind, edit.value, field="input.value")
                if value != target.value:  # a new value is unverified until verified again
                    changed = replace(changed, value=value, verified=False)
            if edit.label is not None and edit.contact_point_id is not None:
                changed = replace(changed, label=_label(edit.label))
            if edit.verify:
                if not verified_by_bank:
                    raise InvalidInput("input.verify", "the bank verifies contact points")
                changed = replace(changed, verified=True)
            if edit.preferred is not None:
                if edit.preferred:
                    for other in points:
                        if (
                            other.kind is changed.kind
                            and other.is_preferred
                            and other.id != changed.id
                        ):
                            await uow.save_contact_point(replace(other, is_preferred=False))
                changed = replace(changed, is_preferred=edit.preferred)
            if changed != target:
                await uow.save_contact_point(changed)
        await uow.emit(
            edit.customer_id,
            "customer.changed",
            {"customerId": edit.customer_id, "part": "contactPoints"},
        )
        await uow.commit()
