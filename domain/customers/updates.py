"""Correcting and completing a customer's record (补全信息, 纠正错误信息): a partial update
against the version the caller read, every changed field kept in the history.

The checks here are the one implementation: `updateCustomer` and the bulk import call them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from domain.access.principal import Role
from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    CreditStatus,
    Customer,
    CustomerKind,
    Gender,
    IncomeBand,
    LifecycleStage,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.registration import EARLIEST_BIRTH, MAX_NAME, MAX_TEXT, clean_text
from domain.errors import DomainError, InvalidInput
from domain.ids import encode_id

MAX_LONG_TEXT = 2000
MAX_SOURCE = 40
MAX_REASON = 500


class VersionConflict(DomainError):
    """The record changed since the caller read it: read it again, then decide."""

    code = "CONFLICT"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the customer changed since you read it (now version {current_version})")
        self.current_version = current_version

    def details(self) -> dict[str, object]:
        return {"currentVersion": self.current_version}


@dataclass(frozen=True, slots=True)
class Spec:
    """One field an update may set: which customers have it and how its value is checked."""

    kind: CustomerKind | None  # None: every customer
    check: Callable[[object, str], object]  # the value as stored, or InvalidInput
    nullable: bool = True


def _text(limit: int, *, required: bool = False) -> Callable[[object, str], object]:
    def check(value: object, at: str) -> object:
        return clean_text(value if isinstance(value, str) else None, at, limit, required=required)

    return check


def _as(kind: type) -> Callable[[object, str], object]:
    def check(value: object, at: str) -> object:
        if not isinstance(value, kind):  # the schema types it; a wrong type is a bug upstream
            raise InvalidInput(at, f"expected {kind.__name__}")
        return value

    return check


P, C = CustomerKind.PERSONAL, CustomerKind.CORPORATE
# Path (as the profile names the field) → what may be set. Birth date and credit status have
# rules beyond their value and are checked in `validate_update`.
FIELDS: Mapping[str, Spec] = {
    "displayName": Spec(None, _text(MAX_NAME, required=True), nullable=False),
    "homeBranch": Spec(None, _as(int)),
    "preferredChannel": Spec(None, _as(PreferredChannel)),
    "preferredLanguage": Spec(None, _text(35)),
    "personal.gender": Spec(P, _as(Gender)),
    "personal.birthDate": Spec(P, _as(date)),
    "personal.occupation": Spec(P, _text(MAX_TEXT)),
    "personal.employer": Spec(P, _text(MAX_NAME)),
    "personal.incomeBand": Spec(P, _as(IncomeBand)),
    "personal.assetBand": Spec(P, _as(AssetBand)),
    "personal.creditStatus": Spec(P, _as(CreditStatus), nullable=False),
    "personal.creditStatusSource": Spec(P, _text(MAX_SOURCE)),
    "corporate.registeredName": Spec(C, _text(MAX_NAME, required=True), nullable=False),
    "corporate.ownershipType": Spec(C, _as(OwnershipType)),
    "corporate.businessScale": Spec(C, _as(BusinessScale)),
    "corporate.industry": Spec(C, _text(MAX_TEXT)),
    "corporate.lifecycleStage": Spec(C, _as(LifecycleStage)),
    "corporate.assetStructure": Spec(C, _text(MAX_LONG_TEXT)),
    "corporate.liabilitySources": Spec(C, _text(MAX_LONG_TEXT)),
    "corporate.financingModes": Spec(C, _text(MAX_LONG_TEXT)),
    "corporate.creditRecord": Spec(C, _text(MAX_LONG_TEXT)),
    # Corporate relations (集团客户): the parent company and the legal representative (法定代表人).
    "corporate.parent": Spec(C, _as(int)),
    "corporate.legalRepresentative": Spec(C, _as(int)),
}
# Fields whose values are other customers: kept in the history by their global ids.
CUSTOMER_REFERENCES = frozenset({"corporate.parent", "corporate.legalRepresentative"})


def current_value(customer: Customer, path: str) -> object:
    """The value a path names on the record as it is."""
    p, c = customer.personal, customer.corporate
    match path.partition("."):
        case ("displayName", _, _):
            return customer.display_name
        case ("homeBranch", _, _):
            return customer.home_branch_id
        case ("preferredChannel", _, _):
            return customer.preferred_channel
        case ("preferredLanguage", _, _):
            return customer.preferred_language
        case ("personal", _, name) if p is not None:
            return {
                "gender": p.gender,
                "birthDate": p.birth_date,
                "occupation": p.occupation,
                "employer": p.employer,
                "incomeBand": p.income_band,
                "assetBand": p.asset_band,
                "creditStatus": p.credit_status,
                "creditStatusSource": p.credit_status_source,
            }[name]
        case ("corporate", _, name) if c is not None:
            return {
                "registeredName": c.registered_name,
                "ownershipType": c.ownership_type,
                "businessScale": c.business_scale,
                "industry": c.industry,
                "lifecycleStage": c.lifecycle_stage,
                "assetStructure": c.asset_structure,
                "liabilitySources": c.liability_sources,
                "financingModes": c.financing_modes,
                "creditRecord": c.credit_record,
                "parent": c.parent_id,
                "legalRepresentative": c.legal_representative_id,
            }[name]
    raise KeyError(path)


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """The fields to set (path → value; None clears a field that may be empty)."""

    customer_id: int
    values: Mapping[str, object] = field(default_factory=dict)
    expected_version: int | None = None  # None: overwrite (a system of record feeding us)


def _field_name(path: str) -> str:
    if path == "homeBranch" or path in CUSTOMER_REFERENCES:
        return f"input.{path}Id"
    return f"input.{path}"


def validate_update(
    update: CustomerUpdate, customer: Customer, resident_birth: date | None, today: date
) -> dict[str, object]:
    """The values as they will be written, only those that change, or InvalidInput."""
    out: dict[str, object] = {}
    for path, raw in update.values.items():
        spec = FIELDS.get(path)
        at = _field_name(path)
        if spec is None:
            raise InvalidInput(at, "not a field that can be changed")
        if spec.kind is not None and spec.kind is not customer.kind:
            raise InvalidInput(at, f"a {customer.kind.value} customer has no such field")
        if raw is None:
            if not spec.nullable:
                raise InvalidInput(at, "required")
            value = None
        else:
            value = spec.check(raw, at)
            if value is None and not spec.nullable:
                raise InvalidInput(at, "required")
        if value != current_value(customer, path):
            out[path] = value
    birth = out.get("personal.birthDate")
    if isinstance(birth, date):
        if not EARLIEST_BIRTH <= birth <= today:
            raise InvalidInput("input.personal.birthDate", "the birth date is not a possible one")
        if resident_birth is not None and birth != resident_birth:
            raise InvalidInput(
                "input.personal.birthDate", "the birth date is not the one in the resident ID"
            )
    if "personal.creditStatus" in out and "personal.creditStatusSource" not in update.values:
        # A credit status means little without who reported it (the bureau, the loan system).
        raise InvalidInput("input.personal.creditStatusSource", "say who reported the status")
    return out


def may_update_customer(role: Role, related: bool, keyed_by_caller: bool) -> bool:
    """Stewards and admins: any record; an RM: their portfolio; an integration: a customer
    keyed by its own source system. Front-line staff change contact data only."""
    match role:
        case Role.STEWARD | Role.ADMIN:
            return True
        case Role.RELATIONSHIP_MANAGER:
            return related
        case Role.INTEGRATION:
            return keyed_by_caller
        case _:
            return False


class UpdateUnitOfWork(MasterDataTransaction, Protocol):
    async def customer_for_update(self, customer_id: int) -> Customer:
        """The record, locked until the commit; NotFound when there is none."""
        ...

    async def resident_birth_date(self, customer_id: int) -> date | None:
        """The birth date the customer's resident ID encodes, if they have one on file."""
        ...

    async def branch_exists(self, branch_id: int) -> bool:
        """Whether the branch exists and is not retired (no new customers for it)."""
        ...

    async def kind_of(self, customer_id: int) -> CustomerKind | None:
        """Whether another customer is a person or a company; None when there is none."""
        ...

    async def parents_of(self, customer_id: int) -> list[int]:
        """The customer's parent, its parent, … up the group (at most 100 levels)."""
        ...

    async def save_fields(self, customer_id: int, values: Mapping[str, object]) -> None: ...


def _shown(path: str, value: object) -> object:
    if path in CUSTOMER_REFERENCES and isinstance(value, int):
        return encode_id("Customer", value)
    return value


async def _check_relations(
    uow: UpdateUnitOfWork, customer: Customer, values: Mapping[str, object]
) -> None:
    """A parent is another company and not one of the customer's own subsidiaries; a legal
    representative is a person."""
    parent = values.get("corporate.parent")
    if isinstance(parent, int):
        if parent == customer.id:
            raise InvalidInput("input.corporate.parentId", "a company is not its own parent")
        if await uow.kind_of(parent) is not CustomerKind.CORPORATE:
            raise InvalidInput("input.corporate.parentId", "the parent is a corporate customer")
        if customer.id in await uow.parents_of(parent):
            raise InvalidInput("input.corporate.parentId", "that company belongs to this one")
    representative = values.get("corporate.legalRepresentative")
    if isinstance(representative, int) and (
        await uow.kind_of(representative) is not CustomerKind.PERSONAL
    ):
        raise InvalidInput(
            "input.corporate.legalRepresentativeId", "the legal representative is a person"
        )


@dataclass(frozen=True, slots=True)
class Updated:
    version: int
    changes: tuple[FieldChange, ...]


def clean_reason(reason: str | None) -> str | None:
    return clean_text(reason, "input.reason", MAX_REASON)


async def update_customer(
    uow_factory: Callable[[], UpdateUnitOfWork],
    update: CustomerUpdate,
    author: Author,
    today: date,
) -> Updated:
    """Apply the update whole or not at all. Nothing that changes: the version stays."""
    async with uow_factory() as uow:
        customer = await uow.customer_for_update(update.customer_id)
        if update.expected_version is not None and update.expected_version != customer.version:
            raise VersionConflict(customer.version)
        # The resident ID is opened only when the birth date it encodes is at stake.
        resident = (
            await uow.resident_birth_date(customer.id)
            if update.values.get("personal.birthDate") is not None
            else None
        )
        values = validate_update(update, customer, resident, today)
        branch = values.get("homeBranch")
        if isinstance(branch, int) and not await uow.branch_exists(branch):
            raise InvalidInput("input.homeBranchId", "no such branch, or it is retired")
        await _check_relations(uow, customer, values)
        if not values:
            return Updated(customer.version, ())
        changes = tuple(
            FieldChange.of(path, _shown(path, current_value(customer, path)), _shown(path, value))
            for path, value in values.items()
        )
        await uow.save_fields(customer.id, values)
        version = await uow.record_changes(customer.id, changes, author)
        await uow.emit(
            customer.id,
            "customer.changed",
            {"customerId": customer.id, "fields": sorted(values)},
        )
        await uow.commit()
    return Updated(version, changes)
