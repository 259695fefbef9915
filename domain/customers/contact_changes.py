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
from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import ContactKind, ContactPoint
from domain.errors import InvalidInput, NotFound

MAX_LABEL = 30


def may_change_contacts(role: Role, related: bool) -> bool:
    """`related`: the caller's own profile, their portfolio, a counter session with them."""
    match role:
        case Role.AGENT | Role.ADMIN | Role.STEWARD:
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


class ContactUnitOfWork(MasterDataTransaction, Protocol):
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


def _changes(before: ContactPoint | None, after: ContactPoint | None) -> list[FieldChange]:
    """What the history keeps of one contact point's move."""
    if before is None or after is None:  # added or removed: its value comes or goes
        point = after or before
        assert point is not None
        return [
            FieldChange.of(
                "contactPoints.value",
                None if before is None else before.value,
                None if after is None else after.value,
                point.id,
            )
        ]
    return [
        FieldChange.of(f"contactPoints.{name}", old, new, after.id)
        for name, old, new in (
            ("value", before.value, after.value),
            ("label", before.label, after.label),
            ("isPreferred", before.is_preferred, after.is_preferred),
            ("verified", before.verified, after.verified),
        )
        if old != new
    ]


async def edit_contact_points(
    uow_factory: Callable[[], ContactUnitOfWork],
    edit: ContactEdit,
    verified_by_bank: bool,
    author: Author,
) -> None:
    """Apply one edit in one transaction; at most one preferred contact point per kind stays.
    `verified_by_bank`: the caller is staff (a customer's own edit stays unverified). Every
    change goes into the record's history."""
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
            added = ContactPoint(new_id, edit.customer_id, edit.kind, value, label, False, False)
            points.append(added)
            target_id = new_id
            history = _changes(None, added)
        else:
            target_id = edit.contact_point_id
            history = []
        target = next((p for p in points if p.id == target_id), None)
        if target is None:
            raise NotFound("contact point", str(target_id))
        if edit.remove:
            await uow.remove_contact_point(target.id)
            history += _changes(target, None)
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
                            demoted = replace(other, is_preferred=False)
                            await uow.save_contact_point(demoted)
                            history += _changes(other, demoted)
                changed = replace(changed, is_preferred=edit.preferred)
            if changed != target:
                await uow.save_contact_point(changed)
                history += _changes(target, changed)
        if not history:
            return  # nothing changed: no new version, nothing to announce
        await uow.record_changes(edit.customer_id, history, author)
        await uow.emit(
            edit.customer_id,
            "customer.changed",
            {"customerId": edit.customer_id, "part": "contactPoints"},
        )
        await uow.commit()
