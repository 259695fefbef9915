"""The consolidated customer profile as GraphQL."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import date, datetime

import strawberry

from domain.access.masking import mask_document
from domain.access.policy import Visibility
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    CreditStatus,
    CustomerKind,
    DocumentType,
    Gender,
    IncomeBand,
    LifecycleStage,
    LifecycleStatus,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.model import ContactPoint as ContactPointModel
from domain.customers.model import Customer as CustomerModel
from domain.customers.model import IdentityDocument as IdentityDocumentModel
from domain.detection.alerts import may_handle
from domain.errors import DomainError, InvalidInput
from domain.ids import encode_id
from domain.interactions import Channel, InteractionKind, TimelinePage, TimelineRequest
from domain.organisation import Branch as BranchModel
from domain.organisation import RelationshipManager as RelationshipManagerModel
from domain.privacy.consents import Consent as ConsentModel
from domain.privacy.consents import ConsentChannel, ConsentPurpose, allows
from domain.products import Holding as HoldingModel
from domain.products import summarize_holdings
from domain.relationships import Proposal
from domain.relationships import Relationship as RelationshipModel
from domain.tasks import Task as TaskModel
from domain.value.offers import MAX_OFFERS
from schema.alerts.types import Alert
from schema.core.access import visible
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.node import Node
from schema.core.pagination import PageInfo, check_first
from schema.customers.history import CustomerChangeConnection, change_history
from schema.customers.quality import Completeness, completeness_of
from schema.fund_movements.types import (
    FundMovementConnection,
    FundMovementFilterInput,
    movements_page,
)
from schema.interactions.types import (
    ChannelUse,
    Interaction,
    InteractionConnection,
    InteractionEdge,
    parse_timeline_cursor,
    timeline_cursor,
    timeline_filter,
)
from schema.organisation.types import (
    Branch,
    RelationshipManager,
)
from schema.ownership.types import RmAssignment, TeamMember
from schema.privacy.types import Consent
from schema.products.types import HoldingPortfolio
from schema.relationships.types import Relationship, relationship_from
from schema.tasks.types import Task
from schema.value.types import CustomerValue, ProductOffer, load_value


@strawberry.type(description="A phone, e-mail address or postal address.")
class ContactPoint:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the contact point.")
    kind: ContactKind = strawberry.field(description="Phone, e-mail or address.")
    value: str | None = strawberry.field(
        description="Phone in E.164, e-mail, or the address text; masked or null by role."
    )
    label: str | None = strawberry.field(description="Home, work, registered…")
    is_preferred: bool = strawberry.field(description="The one to use first for this kind.")
    verified: bool = strawberry.field(description="Confirmed by the customer.")

    @classmethod
    def from_domain(cls, point: ContactPointModel, view: Visibility) -> ContactPoint:
        return cls(
            id=strawberry.ID(encode_id("ContactPoint", point.id)),
            kind=point.kind,
            value=view.apply("ContactPoint", "value", point.value),
            label=point.label,
            is_preferred=point.is_preferred,
            verified=point.verified,
        )


@strawberry.type(description="An identity document on file.")
class IdentityDocument:
    id: strawberry.ID = strawberry.field(
        description="The document's id (replaceIdentityDocument, expireIdentityDocument)."
    )
    type: DocumentType = strawberry.field(description="Document type.")
    number: str | None = strawberry.field(
        description="Document number, normalized; masked (110***********1234) or null by role."
    )
    issuing_country: str = strawberry.field(description="ISO 3166 alpha-2 issuer.")
    expires_on: date | None = strawberry.field(description="Expiry date, if any.")

    @classmethod
    def from_domain(cls, doc: IdentityDocumentModel, view: Visibility) -> IdentityDocument:
        return cls(
            id=strawberry.ID(encode_id("IdentityDocument", doc.id)),
            type=doc.type,
            number=view.apply(
                "IdentityDocument",
                "number",
                doc.number,
                mask=lambda n: mask_document(doc.type.value, n),
            ),
            issuing_country=doc.issuing_country,
            expires_on=doc.expires_on,
        )


@strawberry.type(description="What the bank knows of a natural person (自然人).")
class PersonalDetails:
    gender: Gender | None = strawberry.field(description="Gender.")
    birth_date: date | None = strawberry.field(description="Date of birth.")
    occupation: str | None = strawberry.field(description="Occupation.")
    employer: str | None = strawberry.field(description="Employer.")
    income_band: IncomeBand | None = strawberry.field(description="Declared income band.")
    asset_band: AssetBand | None = strawberry.field(description="Declared asset band.")
    credit_status: CreditStatus | None = strawberry.field(description="Credit standing.")
    credit_status_source: str | None = strawberry.field(
        description="Who reported the credit standing (credit bureau, loan system, RM review)."
    )


@strawberry.type(description="A person acting for a corporate customer.")
class CorporateContact:
    role: str = strawberry.field(description="Role: finance officer, authorised signatory…")
    person_id: strawberry.Private[int]

    @strawberry.field(description="The person, who is a customer too.")
    async def person(self, info: Info) -> Customer | None:  # the row rule applies
        return await load_customer(info, self.person_id)


@strawberry.type(description="What the bank knows of a company or institution (公司/机构).")
class CorporateDetails:
    registered_name: str = strawberry.field(description="Registered name.")
    ownership_type: OwnershipType | None = strawberry.field(description="产权成分.")
    business_scale: BusinessScale | None = strawberry.field(description="Size class.")
    industry: str | None = strawberry.field(description="Industry.")
    lifecycle_stage: LifecycleStage | None = strawberry.field(description="Life-cycle stage.")
    asset_structure: str | None = strawberry.field(description="Asset structure.")
    liability_sources: str | None = strawberry.field(description="Sources of liabilities.")
    financing_modes: str | None = strawberry.field(description="How it finances itself.")
    credit_record: str | None = strawberry.field(description="Credit record summary.")
    customer_id: strawberry.Private[int]
    legal_representative_id: strawberry.Private[int | None]
    parent_id: strawberry.Private[int | None]

    @strawberry.field(description="The legal representative (法定代表人), a personal customer.")
    async def legal_representative(self, info: Info) -> Customer | None:
        if self.legal_representative_id is None:
            return None
        return await load_customer(info, self.legal_representative_id)

    @strawberry.field(description="Parent company within a group (集团客户), if any.")
    async def parent(self, info: Info) -> Customer | None:
        if self.parent_id is None:
            return None
        return await load_customer(info, self.parent_id)

    @strawberry.field(description="Subsidiaries that name this customer as their parent.")
    async def subsidiaries(self, info: Info) -> list[Customer]:
        found = await info.context.loaders.subsidiaries_by_parent.load(self.customer_id)
        # Concurrently: a teller's session check is one Redis call per customer.
        presented = await asyncio.gather(*(present(info, c) for c in found))
        return [c for c in presented if c is not None]

    @strawberry.field(description="People who act for the company.")
    async def contacts(self, info: Info) -> list[CorporateContact]:
        found = await info.context.loaders.corporate_contacts_by_customer.load(self.customer_id)
        return [CorporateContact(role=c.role, person_id=c.person_id) for c in found]


@strawberry.type(description="The consolidated customer profile (客户全景视图).")
class Customer(Node):
    code: str = strawberry.field(description="The bank's customer number.")
    kind: CustomerKind = strawberry.field(description="Personal or corporate.")
    display_name: str = strawberry.field(description="Full name or registered name.")
    personal: PersonalDetails | None = strawberry.field(description="Set for personal customers.")
    corporate: CorporateDetails | None = strawberry.field(
        description="Set for corporate customers."
    )
    preferred_channel: PreferredChannel | None = strawberry.field(
        description="Channel the customer prefers."
    )
    preferred_language: str | None = strawberry.field(description="BCP 47 language tag.")
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="When the record last changed.")
    lifecycle_status: LifecycleStatus = strawberry.field(
        description="PROSPECT until the first product, then ACTIVE."
    )
    converted_at: datetime | None = strawberry.field(
        description="When a prospect became a customer (their first product)."
    )
    version: int = strawberry.field(
        description="The record's version: pass it as updateCustomer's expectedVersion."
    )
    pk: strawberry.Private[int]
    home_branch_id: strawberry.Private[int | None]
    relationship_manager_id: strawberry.Private[int | None]
    view: strawberry.Private[Visibility]

    @classmethod
    def from_domain(cls, customer: CustomerModel, view: Visibility) -> Customer:
        personal = corporate = None
        if customer.personal is not None:
            p = customer.personal
            shown = functools.partial(view.shows, "PersonalDetails")
            personal = PersonalDetails(
                gender=p.gender if shown("gender") else None,
                birth_date=p.birth_date if shown("birthDate") else None,
                occupation=p.occupation if shown("occupation") else None,
                employer=p.employer if shown("employer") else None,
                income_band=p.income_band if shown("incomeBand") else None,
                asset_band=p.asset_band if shown("assetBand") else None,
                credit_status=p.credit_status if shown("creditStatus") else None,
                credit_status_source=p.credit_status_source
                if shown("creditStatusSource")
                else None,
            )
        if customer.corporate is not None:
            c = customer.corporate
            corporate = CorporateDetails(
                registered_name=c.registered_name,
                ownership_type=c.ownership_type,
                business_scale=c.business_scale,
                industry=c.industry,
                lifecycle_stage=c.lifecycle_stage,
                asset_structure=c.asset_structure,
                liability_sources=c.liability_sources,
                financing_modes=c.financing_modes,
                credit_record=c.credit_record,
                customer_id=customer.id,
                legal_representative_id=c.legal_representative_id,
                parent_id=c.parent_id,
            )
        return cls(
            id=strawberry.ID(encode_id("Customer", customer.id)),
            code=customer.code,
            kind=customer.kind,
            display_name=customer.display_name,
            personal=personal,
            corporate=corporate,
            preferred_channel=customer.preferred_channel,
            preferred_language=customer.preferred_language,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            lifecycle_status=customer.lifecycle_status,
            converted_at=customer.converted_at,
            version=customer.version,
            pk=customer.id,
            home_branch_id=customer.home_branch_id,
            relationship_manager_id=customer.relationship_manager_id,
            view=view,
        )

    @strawberry.field(
        description="The global ids of records merged into this one (identity resolution): "
        "each still answers this customer in `customer` and `node`."
    )
    async def merged_ids(self, info: Info) -> list[strawberry.ID]:
        found = await info.context.loaders.merged_ids_by_survivor.load(self.pk)
        return [strawberry.ID(encode_id("Customer", pk)) for pk in found]

    # Each profile part's answer from its rows, written once: the resolvers below call these
    # with what the loaders read, the registered-profile lane with what its one snapshot read
    # (schema/customers/profile_parts.py says which snapshot rows feed which field).

    def shown_contact_points(
        self, rows: Sequence[ContactPointModel], kind: ContactKind | None = None
    ) -> list[ContactPoint]:
        return [
            ContactPoint.from_domain(p, self.view) for p in rows if kind is None or p.kind is kind
        ]

    def shown_documents(self, rows: Sequence[IdentityDocumentModel]) -> list[IdentityDocument]:
        return [IdentityDocument.from_domain(d, self.view) for d in rows]

    def shown_home_branch(self, branch: BranchModel | None) -> Branch | None:
        if self.home_branch_id is None or branch is None:
            return None
        return Branch.from_domain(branch)

    def shown_relationship_manager(
        self, manager: RelationshipManagerModel | None
    ) -> RelationshipManager | None:
        if self.relationship_manager_id is None or manager is None:
            return None
        return RelationshipManager.from_domain(manager)

    def shown_relationship(
        self, current: RelationshipModel | None, proposal: Proposal | None
    ) -> Relationship | None:
        if not self.view.shows("Customer", "relationship"):
            return None
        return relationship_from(self.pk, current, proposal, self.created_at)

    def shown_holdings(
        self, rows: Sequence[HoldingModel], include_closed: bool = False
    ) -> HoldingPortfolio:
        found = list(rows)
        return HoldingPortfolio.build(
            found, summarize_holdings(found), self.view, include_closed=include_closed
        )

    def shown_open_tasks(self, rows: Sequence[TaskModel]) -> list[Task]:
        return [Task.from_domain(t, self.view) for t in rows]

    def shown_consents(self, rows: Sequence[ConsentModel]) -> list[Consent]:
        show_actor = self.view.shows("Consent", "actor")
        return [Consent.from_domain(c, show_actor=show_actor) for c in rows]

    def shown_timeline(self, page: TimelinePage) -> InteractionConnection:
        return interaction_connection(page, self.view)

    @strawberry.field(
        description="Every change of the record, newest first: the field, old and new value "
        "(masked as the field is for you), who, when, why. The bank's own record: not shown "
        "to the customer."
    )
    async def change_history(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        fields: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> CustomerChangeConnection | None:
        if not self.view.shows("Customer", "changeHistory"):
            return None
        try:
            return await change_history(
                info, self.pk, self.view, first, after, fields or None, since, until
            )
        except DomainError as exc:
            raise UserFacingError(exc) from exc

    @strawberry.field(
        description="How complete the record is, and what is missing (the bank's own "
        "assessment: not shown to the customer)."
    )
    async def completeness(self, info: Info) -> Completeness | None:
        if not self.view.shows("Customer", "completeness"):
            return None
        found = await info.context.loaders.customer_by_id.load(self.pk)
        return None if found is None else await completeness_of(info, found)

    @strawberry.field(description="Phones, e-mails and addresses, preferred first per kind.")
    async def contact_points(
        self, info: Info, kind: ContactKind | None = None
    ) -> list[ContactPoint]:
        found = await info.context.loaders.contact_points_by_customer.load(self.pk)
        return self.shown_contact_points(found, kind)

    @strawberry.field(description="Identity documents on file.")
    async def documents(self, info: Info) -> list[IdentityDocument]:
        return self.shown_documents(await info.context.loaders.documents_by_customer.load(self.pk))

    @strawberry.field(description="The branch that owns the relationship.")
    async def home_branch(self, info: Info) -> Branch | None:
        pk = self.home_branch_id
        found = None if pk is None else await info.context.loaders.branch_by_id.load(pk)
        return self.shown_home_branch(found)

    @strawberry.field(description="The accountable relationship manager, if one is assigned.")
    async def relationship_manager(self, info: Info) -> RelationshipManager | None:
        pk = self.relationship_manager_id
        loader = info.context.loaders.relationship_manager_by_id
        return self.shown_relationship_manager(None if pk is None else await loader.load(pk))

    @strawberry.field(
        description="Relationship state on the normal→watch→doubtful→exit ladder (the bank's "
        "internal assessment: not shown to the customer)."
    )
    async def relationship(self, info: Info) -> Relationship | None:
        if not self.view.shows("Customer", "relationship"):
            return None  # nothing read for a caller who may not see it
        loaders = info.context.loaders
        current, proposal = await asyncio.gather(
            loaders.relationship_by_customer.load(self.pk),
            loaders.pending_proposal_by_customer.load(self.pk),
        )
        return self.shown_relationship(current, proposal)

    @strawberry.field(description="Products held, with totals per currency and product spread.")
    async def holdings(self, info: Info, include_closed: bool = False) -> HoldingPortfolio:
        found = await info.context.loaders.holdings_by_customer.load(self.pk)
        return self.shown_holdings(found, include_closed)

    @strawberry.field(
        description="Interactions and their recorded cost per channel over a period "
        "(since inclusive, until exclusive; all time when both are left out)."
    )
    async def channel_mix(
        self, info: Info, since: datetime | None = None, until: datetime | None = None
    ) -> list[ChannelUse]:
        try:
            period = timeline_filter(None, None, since, until, None, None)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.loaders.channel_mix_by_customer.load((self.pk, period))
        show_cost = self.view.shows("ChannelUse", "cost")
        return [
            ChannelUse(channel=u.channel, count=u.count, cost=u.cost if show_cost else None)
            for u in found
        ]

    @strawberry.field(description="Open complaints, service requests and follow-ups.")
    async def open_tasks(self, info: Info) -> list[Task]:
        return self.shown_open_tasks(
            await info.context.loaders.open_tasks_by_customer.load(self.pk)
        )

    @strawberry.field(
        description="Alerts not yet closed, newest first (the bank's own assessment: not "
        "shown to the customer)."
    )
    async def alerts(self, info: Info) -> list[Alert] | None:
        # The field policy, and the alerts' own row rule: only those who handle this
        # customer's alerts (their RM, the call center when there is none, oversight).
        if not self.view.shows("Customer", "alerts") or not may_handle(
            info.context.principal, self.relationship_manager_id
        ):
            return None
        found = await info.context.loaders.open_alerts_by_customer.load(self.pk)
        return [Alert.from_domain(a, self.view) for a in found]

    @strawberry.field(
        description="Contribution and value tier for a month (YYYY-MM; the latest scored month "
        "when left out); null if not scored or not visible to the caller."
    )
    async def value(self, info: Info, period: str | None = None) -> CustomerValue | None:
        if not self.view.shows("Customer", "value"):
            return None
        try:
            return await load_value(info, self.pk, period)
        except DomainError as exc:
            raise UserFacingError(exc) from exc

    @strawberry.field(
        description="Every change of the primary RM, newest first (the bank's own record)."
    )
    async def relationship_manager_history(self, info: Info) -> list[RmAssignment] | None:
        if not self.view.shows("Customer", "relationshipManagerHistory"):
            return None
        found = await info.context.loaders.rm_assignments_by_customer.load(self.pk)
        return [RmAssignment.from_domain(a) for a in found]

    @strawberry.field(description="RMs serving a key customer beside the primary RM.")
    async def relationship_team(self, info: Info) -> list[TeamMember] | None:
        if not self.view.shows("Customer", "relationshipTeam"):
            return None
        found = await info.context.loaders.team_by_customer.load(self.pk)
        return [TeamMember.from_domain(m) for m in found]

    @strawberry.field(
        description="Products to offer: offered to the customer's kind, not held, ranked by "
        "the share of peers (same kind and value tier) holding them. Empty without the "
        "customer's marketing consent or before a month was scored."
    )
    async def next_best_products(self, info: Info, first: int = 5) -> list[ProductOffer] | None:
        if not self.view.shows("Customer", "nextBestProducts"):
            return None
        if not 1 <= first <= MAX_OFFERS:
            raise UserFacingError(InvalidInput("first", f"between 1 and {MAX_OFFERS}"))
        consents = await info.context.loaders.consents_by_customer.load(self.pk)
        if not allows(consents, ConsentPurpose.MARKETING, ConsentChannel.ALL):
            return []
        found = await info.context.offers.offers(self.pk, first)
        return [ProductOffer.from_domain(o) for o in found]

    @strawberry.field(description="Current consents per purpose and channel (opt-in).")
    async def consents(self, info: Info) -> list[Consent]:
        return self.shown_consents(await info.context.loaders.consents_by_customer.load(self.pk))

    @strawberry.field(
        description="On the do-not-contact list (no campaign reaches them): why and since "
        "when; null when not."
    )
    async def do_not_contact(self, info: Info) -> DoNotContactEntry | None:
        found = await info.context.loaders.do_not_contact_by_customer.load(self.pk)
        return (
            None
            if found is None
            else DoNotContactEntry(reason=found.reason, placed_at=found.placed_at)
        )

    @strawberry.field(description="The cross-channel timeline, newest first (ties by id).")
    async def interactions(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        channels: list[Channel] | None = None,
        kinds: list[InteractionKind] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        staff_code: str | None = None,
        branch_id: strawberry.ID | None = None,
    ) -> InteractionConnection:
        try:
            check_first(first)
            position = None if after is None else parse_timeline_cursor(after)
            wanted = timeline_filter(channels, kinds, since, until, staff_code, branch_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        request = TimelineRequest(customer_id=self.pk, first=first, after=position, filter=wanted)
        return self.shown_timeline(
            await info.context.loaders.timeline_page_by_request.load(request)
        )

    @strawberry.field(
        description="Money in and out of the customer's holdings, newest booked first; "
        "amounts and directions as the caller may see the customer's figures (audited)."
    )
    async def fund_movements(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        filter: FundMovementFilterInput | None = None,
    ) -> FundMovementConnection:
        return await movements_page(info, self.pk, self.view, first, filter, after)


def interaction_connection(page: TimelinePage, view: Visibility) -> InteractionConnection:
    edges = [
        InteractionEdge(cursor=timeline_cursor(i), node=Interaction.from_domain(i, view))
        for i in page.items
    ]
    return InteractionConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            end_cursor=edges[-1].cursor if edges else None,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )


@strawberry.type(description="Why a customer is on the do-not-contact list, and since when.")
class DoNotContactEntry:
    reason: str = strawberry.field(description="As recorded (the customer's words or staff's).")
    placed_at: datetime = strawberry.field(description="When it was placed.")


async def present(info: Info, customer: CustomerModel) -> Customer | None:
    """The customer as this caller may see it, or None when the row rule denies it."""
    view = await visible(info, customer)
    return None if view is None else Customer.from_domain(customer, view)


async def load_customer(info: Info, pk: int) -> Customer | None:
    found = await info.context.loaders.customer_by_id.load(pk)
    return None if found is None else await present(info, found)
