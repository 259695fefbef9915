"""Rows to domain objects, written once: every reader and unit of work in api/db maps a row
of a table to its domain object here."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, TypeVar

from api.db.document_crypto import DocumentCrypto
from domain.assignment import OwnershipClaim, RmAssignment
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    ContactPoint,
    CorporateDetails,
    CreditStatus,
    Customer,
    CustomerKind,
    DocumentType,
    Gender,
    IdentityDocument,
    IncomeBand,
    LifecycleStage,
    LifecycleStatus,
    OwnershipType,
    PersonalDetails,
    PreferredChannel,
)
from domain.interactions import Channel, Interaction, InteractionKind, InteractionOutcome
from domain.organisation import Branch, BranchKind, ClaimStatus, RelationshipManager, RmGrade
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose
from domain.products import Holding, HoldingStatus, Product, ProductAudience, ProductCategory
from domain.reference_data import ProductVariant
from domain.relationships import (
    Proposal,
    ProposalStatus,
    ReasonCode,
    Relationship,
    RelationshipState,
    StateChange,
)
from domain.tasks import OwnerKind, Task, TaskKind, TaskOwner, TaskStatus

E = TypeVar("E", bound=enum.Enum)


def _opt(enum_type: type[E], value: Any) -> E | None:
    return None if value is None else enum_type(value)


def assignment_from_row(row: Any) -> RmAssignment:
    return RmAssignment(
        id=row.id,
        customer_id=row.customer_id,
        from_rm_id=row.from_rm_id,
        to_rm_id=row.to_rm_id,
        reason=row.reason,
        actor=row.actor,
        occurred_at=row.occurred_at,
    )


def branch_from_row(row: Any) -> Branch:
    return Branch(
        id=row.id,
        code=row.code,
        name=row.name,
        city=row.city,
        kind=BranchKind(row.kind),
        parent_id=row.parent_id,
        retired_at=row.retired_at,
    )


def claim_from_row(row: Any) -> OwnershipClaim:
    return OwnershipClaim(
        id=row.id,
        customer_id=row.customer_id,
        branch_id=row.branch_id,
        note=row.note,
        status=ClaimStatus(row.status),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


def consent_from_row(row: Any) -> Consent:  # a Row of consents (attribute access by column)
    return Consent(
        customer_id=row.customer_id,
        purpose=ConsentPurpose(row.purpose),
        channel=ConsentChannel(row.channel),
        granted=row.granted,
        version=row.version,
        recorded_at=row.recorded_at,
        source=row.source,
        actor=row.actor,
    )


def contact_point_from_row(row: Any) -> ContactPoint:
    return ContactPoint(
        id=row.id,
        customer_id=row.customer_id,
        kind=ContactKind(row.kind),
        value=row.value,
        label=row.label,
        is_preferred=row.is_preferred,
        verified=row.verified,
    )


def customer_from_row(row: Any) -> Customer:
    kind = CustomerKind(row.kind)
    personal = corporate = None
    if kind is CustomerKind.PERSONAL:
        personal = PersonalDetails(
            gender=_opt(Gender, row.gender),
            birth_date=row.birth_date,
            occupation=row.occupation,
            employer=row.employer,
            income_band=_opt(IncomeBand, row.income_band),
            asset_band=_opt(AssetBand, row.asset_band),
            credit_status=_opt(CreditStatus, row.credit_status) or CreditStatus.UNKNOWN,
            credit_status_source=row.credit_status_source,
        )
    else:
        corporate = CorporateDetails(
            registered_name=row.registered_name or row.display_name,
            ownership_type=_opt(OwnershipType, row.ownership_type),
            business_scale=_opt(BusinessScale, row.business_scale),
            industry=row.industry,
            lifecycle_stage=_opt(LifecycleStage, row.lifecycle_stage),
            asset_structure=row.asset_structure,
            liability_sources=row.liability_sources,
            financing_modes=row.financing_modes,
            credit_record=row.credit_record,
            legal_representative_id=row.legal_representative_id,
            parent_id=row.parent_id,
        )
    return Customer(
        id=row.id,
        code=row.code,
        kind=kind,
        display_name=row.display_name,
        home_branch_id=row.home_branch_id,
        relationship_manager_id=row.relationship_manager_id,
        preferred_channel=_opt(PreferredChannel, row.preferred_channel),
        preferred_language=row.preferred_language,
        personal=personal,
        corporate=corporate,
        created_at=row.created_at,
        updated_at=row.updated_at,
        lifecycle_status=LifecycleStatus(row.lifecycle_status),
        version=row.version,
        converted_at=row.converted_at,
        merged_into_id=row.merged_into_id,
    )


def holding_from_row(row: Any) -> Holding:
    return Holding(
        id=row.id,
        customer_id=row.customer_id,
        product=product_from_row(
            row, row.product_id, row.product_code, row.product_name, row.product_currency
        ),
        account_number=row.account_number,
        currency=row.currency,
        balance=row.balance,
        credit_limit=row.credit_limit,
        status=HoldingStatus(row.status),
        opened_on=row.opened_on,
        closed_on=row.closed_on,
    )


def interaction_from_row(row: Any) -> Interaction:
    return Interaction(
        id=row.id,
        customer_id=row.customer_id,
        channel=Channel(row.channel),
        kind=InteractionKind(row.kind),
        occurred_at=row.occurred_at,
        branch_id=row.branch_id,
        staff_code=row.staff_code,
        cost=row.cost,
        outcome=_opt(InteractionOutcome, row.outcome),
        summary=row.summary,
        satisfaction=row.satisfaction,
    )


def manager_from_row(row: Any) -> RelationshipManager:
    return RelationshipManager(
        id=row.id,
        employee_no=row.employee_no,
        name=row.name,
        grade=RmGrade(row.grade),
        branch_id=row.branch_id,
        active=row.active,
    )


def product_from_row(
    row: Any, pk: int, code: str, name: str, currency: str, retired_at: datetime | None = None
) -> Product:
    return Product(
        id=pk,
        code=code,
        name=name,
        category=ProductCategory(row.category),
        audience=ProductAudience(row.audience),
        currency=currency,
        retired_at=retired_at,
    )


def proposal_from_row(row: Any) -> Proposal:
    return Proposal(
        id=row.id,
        customer_id=row.customer_id,
        from_state=RelationshipState(row.from_state),
        to_state=RelationshipState(row.to_state),
        reason_code=ReasonCode(row.reason_code),
        note=row.note,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        deadline=row.deadline,
        base_version=row.base_version,
        status=ProposalStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def relationship_from_row(row: Any) -> Relationship:
    return Relationship(
        customer_id=row.customer_id,
        state=RelationshipState(row.state),
        since=row.since,
        version=row.version,
    )


def task_from_row(row: Any) -> Task:
    return Task(
        id=row.id,
        customer_id=row.customer_id,
        kind=TaskKind(row.kind),
        status=TaskStatus(row.status),
        title=row.title,
        owner=TaskOwner(OwnerKind(row.owner_kind), row.owner_ref),
        due_at=row.due_at,
        created_by=row.created_by,
        created_at=row.created_at,
        source_interaction_id=row.source_interaction_id,
        result=row.result,
        satisfaction=row.satisfaction,
        result_interaction_id=row.result_interaction_id,
        completed_at=row.completed_at,
        planned_channel=None if row.planned_channel is None else Channel(row.planned_channel),
    )


def document_from_row(row: Any, crypto: DocumentCrypto) -> IdentityDocument:
    """An identity document, its number opened with the data keys (bound to its customer)."""
    return IdentityDocument(
        id=row.id,
        customer_id=row.customer_id,
        type=DocumentType(row.type),
        number=crypto.open(row.type, row.number_key_id, row.number_ciphertext, row.customer_id),
        issuing_country=row.issuing_country,
        expires_on=row.expires_on,
    )


def state_change_from_row(row: Any) -> StateChange:
    return StateChange(
        id=row.id,
        customer_id=row.customer_id,
        from_state=_opt(RelationshipState, row.from_state),
        to_state=RelationshipState(row.to_state),
        reason_code=row.reason_code,
        note=row.note,
        actor=row.actor,
        occurred_at=row.occurred_at,
    )


def variant_from_row(row: Any) -> ProductVariant:
    return ProductVariant(
        id=row.id,
        product_id=row.product_id,
        code=row.code,
        name=row.name,
        term_months=row.term_months,
        interest_rate=row.interest_rate,
        currency=row.currency,
        fee=row.fee,
        fee_note=row.fee_note,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
    )
