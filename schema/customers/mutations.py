"""registerCustomer: a new customer, whole, from the counter, the call center, an RM or a
source system."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated

import strawberry

from domain.access.principal import Role
from domain.customers.contact_changes import (
    ContactEdit,
    edit_contact_points,
    may_change_contacts,
    may_verify_contacts,
)
from domain.customers.history import Author
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    CustomerKind,
    DocumentType,
    Gender,
    IncomeBand,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.registration import (
    DuplicateDocument,
    NewContactPoint,
    NewCorporate,
    NewCustomer,
    NewDocument,
    NewPersonal,
    register_customer,
)
from domain.customers.source_keys import may_link
from domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from domain.ids import decode_typed_id, encode_id
from schema.core.access import require, visible
from schema.core.context import Info
from schema.core.errors import (
    Error,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    UserFacingError,
    error_type,
    rule_error_type,
)
from schema.core.read_audit import AuditUnavailable
from schema.customers.types import Customer, load_customer
from schema.source_keys.types import SourceKeyInput, source_key_of

log = logging.getLogger(__name__)


@strawberry.input(description="An identity document (validated: checksum, format).")
class IdentityDocumentInput:
    type: DocumentType = strawberry.field(description="Resident ID or passport (persons), USCC.")
    number: str = strawberry.field(description="The number as printed.")
    issuing_country: str = strawberry.field(default="CN", description="ISO 3166 alpha-2.")


@strawberry.input(description="A phone (parsed to E.164), e-mail or postal address.")
class ContactPointInput:
    kind: ContactKind = strawberry.field(description="Phone, e-mail or address.")
    value: str = strawberry.field(description="The value as given.")
    label: str | None = strawberry.field(default=None, description="Mobile, home, office…")
    preferred: bool = strawberry.field(
        default=False, description="The preferred one of its kind (one per kind)."
    )


@strawberry.input(description="What the bank records of a natural person.")
class PersonalDetailsInput:
    gender: Gender | None = strawberry.field(default=None, description="Gender.")
    birth_date: date | None = strawberry.field(
        default=None, description="Birth date; taken from the resident ID when left out."
    )
    occupation: str | None = strawberry.field(default=None, description="Occupation.")
    employer: str | None = strawberry.field(default=None, description="Employer.")
    income_band: IncomeBand | None = strawberry.field(default=None, description="Income band.")
    asset_band: AssetBand | None = strawberry.field(default=None, description="Asset band.")


@strawberry.input(description="What the bank records of a company or institution.")
class CorporateDetailsInput:
    registered_name: str = strawberry.field(description="The registered name.")
    ownership_type: OwnershipType | None = strawberry.field(default=None, description="产权成分.")
    business_scale: BusinessScale | None = strawberry.field(default=None, description="Size.")
    industry: str | None = strawberry.field(default=None, description="Industry.")


@strawberry.input(description="A new customer: a person or a company, with how to identify them.")
class RegisterCustomerInput:
    kind: CustomerKind = strawberry.field(description="Personal or corporate.")
    display_name: str = strawberry.field(description="The name to show.")
    documents: list[IdentityDocumentInput] = strawberry.field(
        description="At least a resident ID or passport (persons), the USCC (companies)."
    )
    contact_points: list[ContactPointInput] = strawberry.field(
        default_factory=list, description="Phones, e-mails, addresses."
    )
    personal: PersonalDetailsInput | None = strawberry.field(
        default=None, description="For a personal customer."
    )
    corporate: CorporateDetailsInput | None = strawberry.field(
        default=None, description="For a corporate customer."
    )
    home_branch_id: strawberry.ID | None = strawberry.field(
        default=None, description="The branch that owns the relationship."
    )
    preferred_channel: PreferredChannel | None = strawberry.field(
        default=None, description="The channel the customer prefers."
    )
    preferred_language: str | None = strawberry.field(
        default=None, description="BCP 47 language tag."
    )
    source_key: SourceKeyInput | None = strawberry.field(
        default=None,
        description="The customer's key in the registering system (required from an "
        "integration, of its own system): a registration repeated with it replays.",
    )
    prospect: bool = strawberry.field(
        default=False,
        description="A prospect (潜在客户): known to the bank, holding no product yet; "
        "documents may follow. Their first product makes them ACTIVE.",
    )


@strawberry.type(description="The customer registered (or replayed by its source key).")
class RegisterCustomerPayload:
    customer_id: strawberry.ID = strawberry.field(description="The customer's global id.")
    replayed: bool = strawberry.field(
        description="True when the source key named this customer already: nothing was written."
    )
    pk: strawberry.Private[int]

    @strawberry.field(description="The customer, as you may see them (masked and audited).")
    async def customer(self, info: Info) -> Customer | None:
        return await load_customer(info, self.pk)


@strawberry.type(
    description="A document already identifies another customer: the same person twice is for "
    "identity resolution, never a second record."
)
class DuplicateDocumentError(Error):
    field: str = strawberry.field(description="The document at fault.")
    holder_pk: strawberry.Private[int]

    @strawberry.field(description="The customer it identifies, where you may see them.")
    async def holder(self, info: Info) -> Customer | None:
        return await load_customer(info, self.holder_pk)


RegisterCustomerResult = Annotated[
    RegisterCustomerPayload
    | DuplicateDocumentError
    | InvalidInputError
    | NotFoundError
    | ForbiddenError
    | RuleViolationError,
    strawberry.union("RegisterCustomerResult", description="The customer, or why not."),
]


def _draft(input: RegisterCustomerInput, info: Info) -> NewCustomer:
    principal = info.context.principal
    key = None if input.source_key is None else source_key_of(input.source_key, "input.sourceKey")
    if key is not None and not may_link(principal, key.system):
        raise Forbidden(f"you may not register keys of {key.system}")
    if key is None and principal.role is Role.INTEGRATION:
        raise InvalidInput("input.sourceKey", "an integration registers by its own source key")
    p, c = input.personal, input.corporate
    return NewCustomer(
        kind=input.kind,
        display_name=input.display_name,
        documents=tuple(NewDocument(d.type, d.number, d.issuing_country) for d in input.documents),
        contact_points=tuple(
            NewContactPoint(x.kind, x.value, x.label, x.preferred) for x in input.contact_points
        ),
        personal=None
        if p is None
        else NewPersonal(
            p.gender, p.birth_date, p.occupation, p.employer, p.income_band, p.asset_band
        ),
        corporate=None
        if c is None
        else NewCorporate(c.registered_name, c.ownership_type, c.business_scale, c.industry),
        home_branch_id=None
        if input.home_branch_id is None
        else decode_typed_id(input.home_branch_id, "Branch", field="input.homeBranchId"),
        preferred_channel=input.preferred_channel,
        preferred_language=input.preferred_language,
        source_key=key,
        prospect=input.prospect,
    )


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(
        description="Register a customer with the documents and contact points that identify "
        "them, whole or not at all. A document that identifies someone already is "
        "DUPLICATE_DOCUMENT; repeated with its source key, the registration replays."
    )
    async def register_customer(
        self, info: Info, input: RegisterCustomerInput
    ) -> RegisterCustomerResult:
        context = info.context
        try:
            require(info, "registerCustomer")
            registered = await register_customer(
                context.registrations,
                _draft(input, info),
                Author(
                    context.principal.subject,
                    source_system=context.principal.client_id,
                    correlation_id=context.correlation_id,
                ),
                datetime.now(UTC).date(),
            )
        except DuplicateDocument as exc:
            return DuplicateDocumentError(
                code=exc.code, message=exc.message, field=exc.field, holder_pk=exc.holder_id
            )
        except DomainError as exc:
            return rule_error_type(exc)
        if not registered.replayed:
            # Who registered whom: a record of its own, beside the outbox's announcement.
            entry = context.audit_entry(
                context.audit.operation, (registered.customer_id,), (), "registered"
            )
            try:
                await context.audit_log.record(entry)
            except Exception as exc:
                log.exception("a registration could not be audited")
                raise UserFacingError(AuditUnavailable(context.correlation_id)) from exc
        return RegisterCustomerPayload(
            customer_id=strawberry.ID(encode_id("Customer", registered.customer_id)),
            replayed=registered.replayed,
            pk=registered.customer_id,
        )


@strawberry.input(description="A new phone, e-mail or address for a customer.")
class AddContactPointInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer; left out by a customer (their own)."
    )
    kind: ContactKind = strawberry.field(description="Phone, e-mail or address.")
    value: str = strawberry.field(description="The value as given (a phone is parsed).")
    label: str | None = strawberry.field(default=None, description="Mobile, home, office…")
    preferred: bool = strawberry.field(
        default=False, description="Make it the preferred one of its kind."
    )


@strawberry.input(description="Change a contact point: only what is given changes.")
class ChangeContactPointInput:
    contact_point_id: strawberry.ID = strawberry.field(description="The contact point.")
    value: str | None = strawberry.field(
        default=None, description="A new value (unverified until verified again)."
    )
    label: str | None = strawberry.field(default=None, description="A new label.")
    preferred: bool | None = strawberry.field(
        default=None, description="Make it (or no longer) the preferred one of its kind."
    )
    verify: bool = strawberry.field(
        default=False, description="The bank confirmed it (staff only)."
    )


ContactPointsResult = Annotated[
    Customer | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union(
        "ContactPointsResult", description="The customer with its contact points now, or why not."
    ),
]


async def _edit(info: Info, root_field: str, edit: ContactEdit) -> ContactPointsResult:
    context = info.context
    principal = context.principal
    try:
        require(info, root_field)
        found = (await context.reader.customers_by_id([edit.customer_id])).get(edit.customer_id)
        view = None if found is None else await visible(info, found)
        if found is None or view is None:
            raise NotFound("customer", encode_id("Customer", edit.customer_id))
        allowed = may_verify_contacts if edit.verify else may_change_contacts
        if not allowed(principal.role, view.related):
            raise Forbidden(
                "contact points are changed by the customer, the call center, a teller in a "
                "counter session, their RM; verified by staff"
            )
        author = Author(principal.subject, correlation_id=context.correlation_id)
        await edit_contact_points(
            context.contacts, edit, principal.role is not Role.CUSTOMER, author
        )
        fresh = (await context.reader.customers_by_id([edit.customer_id]))[edit.customer_id]
    except DomainError as exc:
        return error_type(exc)
    # The profile below reads the contact points as they are now, not as loaded before.
    context.loaders.contact_points_by_customer.clear_all()
    return Customer.from_domain(fresh, view)


def _customer_of(info: Info, customer_id: strawberry.ID | None) -> int:
    principal = info.context.principal
    if principal.role is Role.CUSTOMER:
        own = principal.customer_id or 0
        if (
            customer_id is not None
            and decode_typed_id(customer_id, "Customer", field="input.customerId") != own
        ):
            raise Forbidden("a customer changes only their own contact points")
        return own
    if customer_id is None:
        raise InvalidInput("input.customerId", "name the customer")
    return decode_typed_id(customer_id, "Customer", field="input.customerId")


async def _point_owner(info: Info, contact_point_id: strawberry.ID) -> tuple[int, int]:
    pk = decode_typed_id(contact_point_id, "ContactPoint", field="input.contactPointId")
    owner = await info.context.reader.contact_point_owner(pk)
    if owner is None:
        raise NotFound("contact point", contact_point_id)
    return owner, pk


@strawberry.type
class ContactPointMutations:
    @strawberry.mutation(
        description="Add a phone, e-mail or address (a customer's own stays unverified until "
        "the bank verifies it)."
    )
    async def add_contact_point(
        self, info: Info, input: AddContactPointInput
    ) -> ContactPointsResult:
        try:
            require(info, "addContactPoint")  # before anything of the request is read
            customer_id = _customer_of(info, input.customer_id)
        except DomainError as exc:
            return error_type(exc)
        edit = ContactEdit(
            customer_id, None, input.kind, input.value, input.label, input.preferred or None
        )
        return await _edit(info, "addContactPoint", edit)

    @strawberry.mutation(
        description="Change a contact point's value, label or preference, or verify it."
    )
    async def change_contact_point(
        self, info: Info, input: ChangeContactPointInput
    ) -> ContactPointsResult:
        try:
            require(info, "changeContactPoint")  # before anything of the request is read
            customer_id, pk = await _point_owner(info, input.contact_point_id)
        except DomainError as exc:
            return error_type(exc)
        edit = ContactEdit(
            customer_id,
            pk,
            value=input.value,
            label=input.label,
            preferred=input.preferred,
            verify=input.verify,
        )
        return await _edit(info, "changeContactPoint", edit)

    @strawberry.mutation(description="Remove a contact point.")
    async def remove_contact_point(
        self, info: Info, contact_point_id: strawberry.ID
    ) -> ContactPointsResult:
        try:
            require(info, "removeContactPoint")  # before anything of the request is read
            customer_id, pk = await _point_owner(info, contact_point_id)
        except DomainError as exc:
            return error_type(exc)
        return await _edit(info, "removeContactPoint", ContactEdit(customer_id, pk, remove=True))
