"""updateCustomer: correct and complete a record, partially, against the version read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry

from domain.access.principal import Role
from domain.customers.corporate_contacts import ContactEdit, edit_corporate_contacts
from domain.customers.history import Author
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    CreditStatus,
    Gender,
    IncomeBand,
    LifecycleStage,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.updates import (
    CustomerUpdate,
    VersionConflict,
    clean_reason,
    may_update_customer,
    update_customer,
)
from domain.errors import DomainError, Forbidden, NotFound
from domain.ids import decode_typed_id, encode_id
from schema.core.access import require, visible
from schema.core.context import Info
from schema.core.errors import Error, ForbiddenError, InvalidInputError, NotFoundError, error_type
from schema.customers.types import Customer, load_customer
from schema.source_keys.types import SourceKeyInput, customer_pk

UNSET: Any = strawberry.UNSET


@strawberry.input(description="A person's details to change: only the fields given change.")
class PersonalDetailsUpdate:
    gender: Gender | None = strawberry.field(default=UNSET, description="Gender.")
    birth_date: date | None = strawberry.field(
        default=UNSET, description="Birth date; must agree with a resident ID on file."
    )
    occupation: str | None = strawberry.field(default=UNSET, description="Occupation.")
    employer: str | None = strawberry.field(default=UNSET, description="Employer.")
    income_band: IncomeBand | None = strawberry.field(default=UNSET, description="Income band.")
    asset_band: AssetBand | None = strawberry.field(default=UNSET, description="Asset band.")
    credit_status: CreditStatus | None = strawberry.field(
        default=UNSET, description="Credit standing; give creditStatusSource with it."
    )
    credit_status_source: str | None = strawberry.field(
        default=UNSET, description="Who reported the credit standing."
    )


@strawberry.input(description="A company's details to change: only the fields given change.")
class CorporateDetailsUpdate:
    registered_name: str | None = strawberry.field(default=UNSET, description="Registered name.")
    ownership_type: OwnershipType | None = strawberry.field(default=UNSET, description="产权成分.")
    business_scale: BusinessScale | None = strawberry.field(default=UNSET, description="Size.")
    industry: str | None = strawberry.field(default=UNSET, description="Industry.")
    lifecycle_stage: LifecycleStage | None = strawberry.field(
        default=UNSET, description="Life-cycle stage."
    )
    asset_structure: str | None = strawberry.field(default=UNSET, description="Asset structure.")
    liability_sources: str | None = strawberry.field(
        default=UNSET, description="Sources of liabilities."
    )
    financing_modes: str | None = strawberry.field(
        default=UNSET, description="How it finances itself."
    )
    credit_record: str | None = strawberry.field(default=UNSET, description="Credit record.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="The parent company within a group (集团客户); null: none."
    )
    legal_representative_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="The legal representative (法定代表人), a personal customer."
    )


@strawberry.input(
    description="Fields to change on a customer's record. A field left out stays as it is; "
    "null clears it (where it may be empty)."
)
class UpdateCustomerInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer (or customerSourceKey)."
    )
    customer_source_key: SourceKeyInput | None = strawberry.field(
        default=None, description="The customer by its key in a source system."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="`Customer.version` as you read it: a stale one is a CONFLICT and nothing "
        "changes. Leave out only to overwrite (a system of record feeding quanjing).",
    )
    reason: str | None = strawberry.field(
        default=None, description="Why (kept in the change history)."
    )
    display_name: str | None = strawberry.field(default=UNSET, description="The name to show.")
    home_branch_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="The branch that owns the relationship."
    )
    preferred_channel: PreferredChannel | None = strawberry.field(
        default=UNSET, description="The channel the customer prefers."
    )
    preferred_language: str | None = strawberry.field(
        default=UNSET, description="BCP 47 language tag."
    )
    personal: PersonalDetailsUpdate | None = strawberry.field(
        default=None, description="A person's details."
    )
    corporate: CorporateDetailsUpdate | None = strawberry.field(
        default=None, description="A company's details."
    )


@strawberry.type(description="The record as changed.")
class UpdateCustomerPayload:
    version: int = strawberry.field(description="The record's version now.")
    changed_fields: list[str] = strawberry.field(
        description="The fields that changed (none: the values were already so)."
    )
    pk: strawberry.Private[int]

    @strawberry.field(description="The customer, as you may see them (masked and audited).")
    async def customer(self, info: Info) -> Customer | None:
        return await load_customer(info, self.pk)


@strawberry.type(description="A customer's record was changed.")
class CustomerChangedPayload:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    pk: strawberry.Private[int]

    @strawberry.field(
        description="The customer as it is now, as you may see them (masked and audited); null "
        "for callers who read no profiles (integrations): the change stands all the same."
    )
    async def customer(self, info: Info) -> Customer | None:
        loaders = info.context.loaders
        # Read after the change: nothing this request loaded before may answer.
        loaders.customer_by_id.clear_all()
        loaders.documents_by_customer.clear_all()
        loaders.corporate_contacts_by_customer.clear_all()
        return await load_customer(info, self.pk)

    @classmethod
    def of(cls, customer_id: int) -> CustomerChangedPayload:
        return cls(customer_id=strawberry.ID(encode_id("Customer", customer_id)), pk=customer_id)


@strawberry.type(description="The record changed since you read it; read it again, then decide.")
class VersionConflictError(Error):
    current_version: int = strawberry.field(description="The record's version now.")


UpdateCustomerResult = Annotated[
    UpdateCustomerPayload
    | VersionConflictError
    | InvalidInputError
    | NotFoundError
    | ForbiddenError,
    strawberry.union("UpdateCustomerResult", description="The changed record, or why not."),
]

_CAMEL = {
    "birth_date": "birthDate",
    "income_band": "incomeBand",
    "asset_band": "assetBand",
    "credit_status": "creditStatus",
    "credit_status_source": "creditStatusSource",
    "registered_name": "registeredName",
    "ownership_type": "ownershipType",
    "business_scale": "businessScale",
    "lifecycle_stage": "lifecycleStage",
    "asset_structure": "assetStructure",
    "liability_sources": "liabilitySources",
    "financing_modes": "financingModes",
    "credit_record": "creditRecord",
}


# Inputs that name another customer: decoded to its key, under the profile field's name.
_REFERENCES = {
    "parent_id": ("parent", "parentId"),
    "legal_representative_id": ("legalRepresentative", "legalRepresentativeId"),
}


def _given(prefix: str, part: object) -> dict[str, object]:
    """The fields of an input part that were given (null included), by their profile path."""
    out: dict[str, object] = {}
    for name, value in vars(part).items():
        if value is UNSET:
            continue
        if name in _REFERENCES:
            path, argument = _REFERENCES[name]
            at = f"input.{prefix}.{argument}"
            out[f"{prefix}.{path}"] = (
                None if value is None else decode_typed_id(value, "Customer", field=at)
            )
        else:
            out[f"{prefix}.{_CAMEL.get(name, name)}"] = value
    return out


def _values(input: UpdateCustomerInput) -> dict[str, object]:
    values: dict[str, object] = {}
    for path, value in (
        ("displayName", input.display_name),
        ("preferredChannel", input.preferred_channel),
        ("preferredLanguage", input.preferred_language),
    ):
        if value is not UNSET:
            values[path] = value
    if input.home_branch_id is not UNSET:
        values["homeBranch"] = (
            None
            if input.home_branch_id is None
            else decode_typed_id(input.home_branch_id, "Branch", field="input.homeBranchId")
        )
    if input.personal is not None:
        values |= _given("personal", input.personal)
    if input.corporate is not None:
        values |= _given("corporate", input.corporate)
    return values


async def standing(info: Info, customer_id: int) -> tuple[bool, bool]:
    """How the caller stands to the record a write names: (related: their own, portfolio or
    counter session; keyed: an integration whose system has a key for the customer). NotFound
    for a customer the caller may not read; an integration learns nothing of customers that
    its system does not key."""
    context = info.context
    principal = context.principal
    if principal.role is Role.INTEGRATION:
        keyed = principal.client_id is not None and await context.source_keys.has_key(
            customer_id, principal.client_id
        )
        if not keyed:
            raise Forbidden("an integration changes customers keyed by its own system")
        return False, True
    found = (await context.reader.customers_by_id([customer_id])).get(customer_id)
    view = None if found is None else await visible(info, found)
    if found is None or view is None:
        raise NotFound("customer", encode_id("Customer", customer_id))
    return view.related, False


def author_of(info: Info, reason: str | None = None) -> Author:
    """Who writes: the principal, its source system for an integration, the request."""
    principal = info.context.principal
    return Author(
        actor=principal.subject,
        source_system=principal.client_id if principal.role is Role.INTEGRATION else None,
        correlation_id=info.context.correlation_id,
        reason=clean_reason(reason),
    )


@strawberry.type
class CustomerUpdateMutations:
    @strawberry.mutation(
        description="Correct or complete a customer's record: only the fields given change, "
        "against the version you read (CONFLICT when it is stale); every change is kept in "
        "the record's change history."
    )
    async def update_customer(self, info: Info, input: UpdateCustomerInput) -> UpdateCustomerResult:
        context = info.context
        principal = context.principal
        try:
            require(info, "updateCustomer")
            customer_id = await customer_pk(
                info, input.customer_id, input.customer_source_key, "input.customerId"
            )
            related, keyed = await standing(info, customer_id)
            if not may_update_customer(principal.role, related, keyed):
                raise Forbidden("stewards and admins change any record, an RM their portfolio")
            update = CustomerUpdate(customer_id, _values(input), input.expected_version)
            updated = await update_customer(
                context.updates, update, author_of(info, input.reason), datetime.now(UTC).date()
            )
        except VersionConflict as exc:
            return VersionConflictError(
                code=exc.code, message=exc.message, current_version=exc.current_version
            )
        except DomainError as exc:
            return error_type(exc)
        # The answer below reads the record as it is now.
        context.loaders.customer_by_id.clear_all()
        return UpdateCustomerPayload(
            version=updated.version,
            changed_fields=[c.field for c in updated.changes],
            pk=customer_id,
        )


@strawberry.input(description="A person who acts for a company, in a role.")
class CorporateContactInput:
    corporate_id: strawberry.ID = strawberry.field(description="The company.")
    person_id: strawberry.ID = strawberry.field(description="The person, a personal customer.")
    role: str = strawberry.field(description="财务负责人, 授权签字人, authorised signatory…")
    reason: str | None = strawberry.field(default=None, description="Why (kept in the history).")


CorporateContactResult = Annotated[
    CustomerChangedPayload | InvalidInputError | NotFoundError | ForbiddenError,
    strawberry.union("CorporateContactResult", description="The company as it is now, or why not."),
]


async def _edit_contact(
    info: Info, root_field: str, input: CorporateContactInput, remove: bool
) -> CorporateContactResult:
    context = info.context
    try:
        require(info, root_field)
        company = decode_typed_id(input.corporate_id, "Customer", field="input.corporateId")
        person = decode_typed_id(input.person_id, "Customer", field="input.personId")
        related, keyed = await standing(info, company)
        if not may_update_customer(context.principal.role, related, keyed):
            raise Forbidden("stewards and admins change any record, an RM their portfolio")
        edit = ContactEdit(company, person, input.role, remove=remove)
        await edit_corporate_contacts(
            context.corporate_contacts, edit, author_of(info, input.reason)
        )
    except DomainError as exc:
        return error_type(exc)
    return CustomerChangedPayload.of(company)


@strawberry.type
class CorporateContactMutations:
    @strawberry.mutation(
        description="Record that a person acts for a company in a role (a repeat is harmless)."
    )
    async def add_corporate_contact(
        self, info: Info, input: CorporateContactInput
    ) -> CorporateContactResult:
        return await _edit_contact(info, "addCorporateContact", input, remove=False)

    @strawberry.mutation(description="Record that a person no longer acts for a company in a role.")
    async def remove_corporate_contact(
        self, info: Info, input: CorporateContactInput
    ) -> CorporateContactResult:
        return await _edit_contact(info, "removeCorporateContact", input, remove=True)
