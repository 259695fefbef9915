"""The PostgreSQL schema as SQLAlchemy models: the source alembic autogenerates from.

Models are persistence only; the domain's dataclasses are what the rest of the code passes
around. Every relationship is `lazy="raise"`: a forgotten eager load fails loudly instead of
turning one request into hundreds of queries.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from domain.campaigns.eligibility import Reason
from domain.campaigns.model import (
    CampaignKind,
    CampaignOutcome,
    CampaignStatus,
    ContactChannel,
    ResponseKind,
)
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
from domain.detection.alerts import AlertStatus
from domain.detection.rules import RuleKind, Severity
from domain.fund_movements import CounterpartyKind, MovementDirection
from domain.interactions import Channel, InteractionKind, InteractionOutcome
from domain.organisation import BranchKind, ClaimStatus
from domain.privacy.consents import ConsentChannel, ConsentPurpose
from domain.privacy.erasure import DataCategory
from domain.products import HoldingStatus, ProductAudience, ProductCategory
from domain.reference_data import ReferenceKind
from domain.relationships import ProposalStatus, ReasonCode, RelationshipState
from domain.tasks import OwnerKind, TaskKind, TaskStatus
from domain.value.tiers import ValueTier
from domain.webhooks import DeliveryStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# References between one customer's rows carry the customer (a schema ready to shard:
# docs/scaling.md, stage 5), checked at commit: a merge moves both sides of a reference to the
# survivor, one table at a time, in one transaction.
CHECKED_AT_COMMIT: dict[str, Any] = {"deferrable": True, "initially": "DEFERRED"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type[enum.Enum], name: str | None = None) -> CheckConstraint:
    """A CHECK that keeps a text column inside a domain enum (text + CHECK migrates easier
    than a PostgreSQL enum type: adding a value is a constraint swap, not a type rewrite)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class BranchRow(Base):
    __tablename__ = "branches"
    __table_args__ = (one_of("kind", BranchKind),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    # Retired, never deleted: customers, staff and interactions still refer to it.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RelationshipManagerRow(Base):
    __tablename__ = "relationship_managers"
    __table_args__ = (CheckConstraint("grade BETWEEN 1 AND 4", name="grade"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int] = mapped_column(SmallInteger)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    branch: Mapped[BranchRow] = relationship(lazy="raise")


class CustomerRow(Base):
    __tablename__ = "customers"
    __table_args__ = (
        one_of("kind", CustomerKind),
        one_of("gender", Gender),
        one_of("income_band", IncomeBand),
        one_of("asset_band", AssetBand),
        one_of("credit_status", CreditStatus),
        one_of("ownership_type", OwnershipType),
        one_of("business_scale", BusinessScale),
        one_of("lifecycle_stage", LifecycleStage),
        one_of("preferred_channel", PreferredChannel),
        one_of("lifecycle_status", LifecycleStatus),
        CheckConstraint(
            "kind = 'corporate' OR (ownership_type IS NULL AND business_scale IS NULL "
            "AND lifecycle_stage IS NULL AND legal_representative_id IS NULL)",
            name="personal_has_no_corporate_details",
        ),
        CheckConstraint(
            "kind = 'personal' OR (gender IS NULL AND birth_date IS NULL "
            "AND income_band IS NULL AND asset_band IS NULL)",
            name="corporate_has_no_personal_details",
        ),
        # The data-quality report: a branch's worst records first.
        Index("ix_customers_branch_completeness", "home_branch_id", "completeness", "id"),
        # Partial name search (姓名模糊查询) through trigrams; GIN answers ILIKE '%…%'.
        Index(
            "ix_customers_display_name_trgm",
            "display_name",
            postgresql_using="gin",
            postgresql_ops={"display_name": "gin_trgm_ops"},
        ),
        # The names' pinyin from their start (xiong → 熊…), written by the import or a trigger
        # (migrations: name_pinyin); a B-tree, as a second trigram index slowed the import.
        Index(
            "ix_customers_name_pinyin",
            "name_pinyin",
            postgresql_ops={"name_pinyin": "text_pattern_ops"},
        ),
        Index(
            "ix_customers_merged_into_id",
            "merged_into_id",
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    display_name: Mapped[str] = mapped_column(String(200))
    home_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    # One primary RM per customer, by construction: a column, not a link table.
    relationship_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("relationship_managers.id"), index=True
    )
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    preferred_language: Mapped[str | None] = mapped_column(String(10))
    # Personal customers (自然人)
    gender: Mapped[str | None] = mapped_column(String(12))
    birth_date: Mapped[date | None] = mapped_column(Date)
    occupation: Mapped[str | None] = mapped_column(String(100))
    employer: Mapped[str | None] = mapped_column(String(200))
    income_band: Mapped[str | None] = mapped_column(String(12))
    asset_band: Mapped[str | None] = mapped_column(String(12))
    credit_status: Mapped[str | None] = mapped_column(String(12))
    # Corporate customers (公司/机构); the display name may be a short form of the registered one.
    registered_name: Mapped[str | None] = mapped_column(String(200))
    ownership_type: Mapped[str | None] = mapped_column(String(20))
    business_scale: Mapped[str | None] = mapped_column(String(10))
    industry: Mapped[str | None] = mapped_column(String(100))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(10))
    asset_structure: Mapped[str | None] = mapped_column(Text)
    liability_sources: Mapped[str | None] = mapped_column(Text)
    financing_modes: Mapped[str | None] = mapped_column(Text)
    credit_record: Mapped[str | None] = mapped_column(Text)
    legal_representative_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Who reported the credit status (the credit bureau, the loan system, an RM's review).
    credit_status_source: Mapped[str | None] = mapped_column(String(40))
    # PROSPECT until the first product (domain/customers/lifecycle.py); the conversion's time.
    lifecycle_status: Mapped[str] = mapped_column(String(10), server_default=text("'active'"))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The master record's version: every change of it (fields, contact points, documents)
    # bumps it, and updateCustomer's expectedVersion is compared with it.
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    # How complete the record is (domain/customers/completeness.py), refreshed in every
    # transaction that changes it; null until first assessed (`quanjing assess-completeness`).
    completeness: Mapped[int | None] = mapped_column(SmallInteger)
    completeness_missing: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    # Set when the customer's personal data was erased (the row stays for the bank's books).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The name in pinyin, lower case, without spaces: written by the bulk import or by the
    # database's trigger; searched from its start through a B-tree.
    name_pinyin: Mapped[str | None] = mapped_column(Text)
    # Set while the record is merged into another (customer_merges): its id and source keys
    # answer the survivor, and rows written for it land there (trigger redirect_merged).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    home_branch: Mapped[BranchRow | None] = relationship(lazy="raise")
    relationship_manager: Mapped[RelationshipManagerRow | None] = relationship(lazy="raise")
    contact_points: Mapped[list[ContactPointRow]] = relationship(lazy="raise")
    documents: Mapped[list[IdentityDocumentRow]] = relationship(lazy="raise")


class CorporateContactRow(Base):
    __tablename__ = "corporate_contacts"

    corporate_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(50), primary_key=True)


class ContactPointRow(Base):
    __tablename__ = "contact_points"
    __table_args__ = (
        one_of("kind", ContactKind),
        # At most one preferred contact point of each kind per customer.
        Index(
            "uq_contact_points_preferred",
            "customer_id",
            "kind",
            unique=True,
            postgresql_where=text("is_preferred"),
        ),
        Index("ix_contact_points_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(300))
    label: Mapped[str | None] = mapped_column(String(30))
    is_preferred: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    verified: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _now()


class IdentityDocumentRow(Base):
    """The number is stored encrypted (AES-GCM) with a keyed hash (HMAC) for exact lookup."""

    __tablename__ = "identity_documents"
    __table_args__ = (
        one_of("type", DocumentType),
        Index("uq_identity_documents_type_number_hmac", "type", "number_hmac", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    number_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    number_key_id: Mapped[str] = mapped_column(String(20))
    number_hmac: Mapped[bytes] = mapped_column(LargeBinary)
    issuing_country: Mapped[str] = mapped_column(String(2), server_default=text("'CN'"))
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _now()


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (one_of("category", ProductCategory), one_of("audience", ProductAudience))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'CNY'"))
    # Retired, never deleted: holdings still refer to it; no new holding may.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HoldingRow(Base):
    __tablename__ = "holdings"
    __table_args__ = (
        one_of("status", HoldingStatus),
        CheckConstraint("credit_limit IS NULL OR credit_limit >= 0", name="credit_limit"),
        CheckConstraint(
            "(status = 'closed') = (closed_on IS NOT NULL)", name="closed_on_matches_status"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    account_number: Mapped[str] = mapped_column(String(34))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    credit_limit: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    status: Mapped[str] = mapped_column(String(10))
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    # The source system's reference, for an idempotent holdings feed.
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True)

    product: Mapped[ProductRow] = relationship(lazy="raise")
    # Written for a record merged into this row's customer: where an unmerge sends it back.
    arrived_for: Mapped[int | None] = mapped_column(BigInteger)


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        one_of("channel", Channel),
        one_of("kind", InteractionKind),
        one_of("outcome", InteractionOutcome),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        # The timeline: newest first, ties broken by id; an index-only walk per customer.
        Index(
            "ix_interactions_timeline",
            "customer_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        # The contact-frequency cap counts marketing contacts made outside campaigns.
        Index(
            "ix_interactions_marketing_outside_campaigns",
            "occurred_at",
            postgresql_where=text("kind = 'marketing_contact' AND campaign_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    staff_code: Mapped[str | None] = mapped_column(String(40))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    outcome: Mapped[str | None] = mapped_column(String(12))
    summary: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    offers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    products_discussed: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), server_default=text("'{}'")
    )
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    # An imported interaction's reference in its source system, and a digest of the record:
    # the same reference again is unchanged, with another record SOURCE_REF_REUSED.
    source_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    source_hash: Mapped[str | None] = mapped_column(String(64))
    # Written for a record merged into this row's customer: where an unmerge sends it back.
    arrived_for: Mapped[int | None] = mapped_column(BigInteger)
    # A campaign's contact: the campaign and the arm's position in it.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    campaign_arm: Mapped[int | None] = mapped_column(SmallInteger)


class RelationshipStateRow(Base):
    __tablename__ = "relationship_states"
    __table_args__ = (one_of("state", RelationshipState),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))


class StateChangeRow(Base):
    __tablename__ = "relationship_state_changes"
    __table_args__ = (
        one_of("from_state", RelationshipState),
        one_of("to_state", RelationshipState),
        Index("ix_relationship_state_changes_customer", "customer_id", text("occurred_at DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRecordRow(Base):
    """Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, whoever asks."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_customer_ids", "customer_ids", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    correlation_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(80))
    operation: Mapped[str | None] = mapped_column(String(200))
    customer_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    outcome: Mapped[str] = mapped_column(String(10))


class ConsentRow(Base):
    """Every version is kept: the history is the evidence of lawful processing."""

    __tablename__ = "consents"
    __table_args__ = (
        one_of("purpose", ConsentPurpose),
        one_of("channel", ConsentChannel),
        Index("uq_consents_version", "customer_id", "purpose", "channel", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))


class LegalHoldRow(Base):
    __tablename__ = "legal_holds"
    __table_args__ = (one_of("category", DataCategory),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    category: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date] = mapped_column(Date)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = _now()


class IdempotencyKeyRow(Base):
    """Stripe-style idempotency: one row per (caller, key); the unique key makes concurrent
    first attempts wait for each other, so exactly one write happens."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(250), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    operation: Mapped[str] = mapped_column(String(50))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FundMovementRow(Base):
    __tablename__ = "fund_movements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["holding_id", "customer_id"],
            ["holdings.id", "holdings.customer_id"],
            **CHECKED_AT_COMMIT,
        ),
        one_of("direction", MovementDirection),
        one_of("counterparty_kind", CounterpartyKind),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_fund_movements_customer_booked", "customer_id", text("booked_at DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    holding_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    currency: Mapped[str] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(6))
    counterparty_kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The source system's reference: the feed is idempotent on it.
    external_ref: Mapped[str] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _now()
    # Written for a record merged into this row's customer: where an unmerge sends it back.
    arrived_for: Mapped[int | None] = mapped_column(BigInteger)


class TaskRow(Base):
    """Complaints, service requests and follow-ups (回访): an owner, a due date, a result."""

    __tablename__ = "tasks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["source_interaction_id", "customer_id"],
            ["interactions.id", "interactions.customer_id"],
            **CHECKED_AT_COMMIT,
        ),
        ForeignKeyConstraint(
            ["result_interaction_id", "customer_id"],
            ["interactions.id", "interactions.customer_id"],
            **CHECKED_AT_COMMIT,
        ),
        one_of("kind", TaskKind),
        one_of("status", TaskStatus),
        one_of("owner_kind", OwnerKind),
        one_of("planned_channel", Channel),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        Index("ix_tasks_owner_status_due", "owner_kind", "owner_ref", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(200))
    owner_kind: Mapped[str] = mapped_column(String(10))
    owner_ref: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    source_interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    result_interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    # Written for a record merged into this row's customer: where an unmerge sends it back.
    arrived_for: Mapped[int | None] = mapped_column(BigInteger)
    # A contact task's planned method (domain/contact_planning.py); null for other tasks.
    planned_channel: Mapped[str | None] = mapped_column(String(20))
    # The campaign a contact task was opened for.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))


class OutboxRow(Base):
    """Events written in the same transaction as the change; a relay publishes them after
    commit, so a rolled-back write is never announced and a Redis outage only delays."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StateChangeProposalRow(Base):
    """Maker-checker: a move proposed by one principal, decided by another."""

    __tablename__ = "state_change_proposals"
    __table_args__ = (
        one_of("from_state", RelationshipState),
        one_of("to_state", RelationshipState),
        one_of("reason_code", ReasonCode),
        one_of("status", ProposalStatus),
        # At most one proposal per customer waits for a decision.
        Index(
            "uq_state_change_proposals_pending",
            "customer_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    from_state: Mapped[str] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    base_version: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)


class DetectionRuleRow(Base):
    """Rules are data: switched on and off, re-tuned, without a deployment."""

    __tablename__ = "detection_rules"
    __table_args__ = (one_of("kind", RuleKind), one_of("severity", Severity))

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(10))
    cooldown_hours: Mapped[int] = mapped_column(BigInteger)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()


class AlertRow(Base):
    """A fired rule: evidence, severity, and the contact task that answers it."""

    __tablename__ = "alerts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["task_id", "customer_id"], ["tasks.id", "tasks.customer_id"], **CHECKED_AT_COMMIT
        ),
        # A key names one customer's finding; unique with the customer, so it shards with them.
        UniqueConstraint("dedupe_key", "customer_id"),
        one_of("rule", RuleKind),
        one_of("severity", Severity),
        one_of("status", AlertStatus),
        # Cooldown checks and a customer's alerts, newest first.
        Index("ix_alerts_customer_rule_fired", "customer_id", "rule", text("fired_at DESC")),
        Index("ix_alerts_open", "id", postgresql_where=text("status <> 'closed'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    # The event that fired it: the same event never alerts twice, however often delivered.
    dedupe_key: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    task_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written for a record merged into this row's customer: where an unmerge sends it back.
    arrived_for: Mapped[int | None] = mapped_column(BigInteger)


class WebhookSubscriptionRow(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # The signing secret, AES-GCM sealed like document numbers: a database dump alone
    # cannot forge our signatures.
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str] = mapped_column(String(20))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    description: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class WebhookDeliveryRow(Base):
    """One event for one subscription, attempted until delivered or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        one_of("status", DeliveryStatus),
        # An event redelivered to the worker fans out once.
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now()


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(BigInteger)


class ProfileVersionRow(Base):
    """A counter per customer, bumped by triggers in the same transaction as every change to
    what a profile shows; customer_id 0 counts changes to branches, RMs and products. The
    response cache serves an answer only while its counter is unchanged."""

    __tablename__ = "profile_versions"

    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class CategoryValueRateRow(Base):
    """Yearly margin and monthly servicing cost per product category (docs/value.md)."""

    __tablename__ = "category_value_rates"
    __table_args__ = (one_of("category", ProductCategory),)

    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    margin_rate: Mapped[Decimal] = mapped_column(Numeric(8, 6))
    servicing_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()


class ProductValueRateRow(Base):
    """A product's own rates; a NULL column falls back to the category's."""

    __tablename__ = "product_value_rates"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    margin_rate: Mapped[Decimal | None] = mapped_column(Numeric(8, 6))
    servicing_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()


class ChannelCostRow(Base):
    """Cost of one interaction in a channel when none was recorded."""

    __tablename__ = "channel_costs"
    __table_args__ = (one_of("channel", Channel),)

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()


class ValuePeriodRow(Base):
    """One full scoring of a month: how many customers, and the high-value cut-off."""

    __tablename__ = "value_periods"

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger)
    high_share: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    high_cutoff: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerValueRow(Base):
    """A customer's contribution and tier for one month (totals of the lines below)."""

    __tablename__ = "customer_values"
    __table_args__ = (
        one_of("tier", ValueTier),
        Index("ix_customer_values_customer_period", "customer_id", text("period DESC")),
    )

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    margin_revenue: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    fee_revenue: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    interaction_cost: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    servicing_cost: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    contribution: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    previous: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    prior: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    corporate_growth: Mapped[bool] = mapped_column(Boolean)
    tier: Mapped[str] = mapped_column(String(10))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ValueProductLineRow(Base):
    __tablename__ = "value_product_lines"

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    holdings: Mapped[int] = mapped_column(SmallInteger)
    average_balance: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    margin_rate: Mapped[Decimal] = mapped_column(Numeric(8, 6))
    margin_revenue: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    fee_revenue: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    servicing_cost: Mapped[Decimal] = mapped_column(Numeric(20, 2))


class ValueChannelLineRow(Base):
    __tablename__ = "value_channel_lines"

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    interactions: Mapped[int] = mapped_column(BigInteger)
    recorded_cost: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    defaulted: Mapped[int] = mapped_column(BigInteger)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    cost: Mapped[Decimal] = mapped_column(Numeric(20, 2))


class RmAssignmentRow(Base):
    """Every change of a customer's primary RM, on the customer's timeline."""

    __tablename__ = "rm_assignments"
    __table_args__ = (
        Index("ix_rm_assignments_customer_occurred", "customer_id", text("occurred_at DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    from_rm_id: Mapped[int | None] = mapped_column(ForeignKey("relationship_managers.id"))
    to_rm_id: Mapped[int] = mapped_column(ForeignKey("relationship_managers.id"))
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RmTeamMemberRow(Base):
    """RMs who serve a key customer beside the primary RM."""

    __tablename__ = "rm_team_members"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    rm_id: Mapped[int] = mapped_column(
        ForeignKey("relationship_managers.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(60))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = _now()


class OwnershipClaimRow(Base):
    """A branch's claim to own a customer; two open claims (or one against the home branch)
    are a conflict for an approver to resolve."""

    __tablename__ = "ownership_claims"
    __table_args__ = (
        one_of("status", ClaimStatus),
        Index(
            "uq_ownership_claims_open",
            "customer_id",
            "branch_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SegmentRow(Base):
    """A saved rule-based segment; members are computed by compiling the rule to SQL."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class ValuePeerProductRow(Base):
    """How many customers of a peer group (kind × tier) hold each product, per scored month:
    what next-best-product offers are ranked by."""

    __tablename__ = "value_peer_products"

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    tier: Mapped[str] = mapped_column(String(10), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    holders: Mapped[int] = mapped_column(BigInteger)
    peers: Mapped[int] = mapped_column(BigInteger)


class CustomerSourceKeyRow(Base):
    """A customer's key in another of the bank's systems (domain/customers/source_keys.py)."""

    __tablename__ = "customer_source_keys"
    __table_args__ = (UniqueConstraint("system", "key"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    system: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    # A digest of the record the bulk import last wrote for this key: the same record again
    # is unchanged and writes nothing (domain/imports/customers.py).
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)


class CustomerChangeRow(Base):
    """One changed field of a customer's master record (domain/customers/history.py). The
    values are kept as text as the field shows them (document numbers only masked); erasure
    clears the values of the erased category."""

    __tablename__ = "customer_changes"
    __table_args__ = (
        one_of("category", DataCategory),
        Index("ix_customer_changes_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    # The contact point or document the change is about (its row may be gone since).
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    source_system: Mapped[str | None] = mapped_column(String(40))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    changed_at: Mapped[datetime] = _now()


class ReferenceKeyRow(Base):
    """A branch's, product's or staff member's key in the system that owns it
    (domain/reference_data.py)."""

    __tablename__ = "reference_keys"
    __table_args__ = (
        one_of("kind", ReferenceKind),
        Index("ix_reference_keys_kind_record_id", "kind", "record_id"),
    )

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    system: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _now()
    # The digest of the record the bulk import last wrote for this key (unchanged: no write).
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)


class ProductVariantRow(Base):
    """A product's variant with its own terms, keyed by its code within the product."""

    __tablename__ = "product_variants"
    __table_args__ = (
        UniqueConstraint("product_id", "code"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    term_months: Mapped[int | None] = mapped_column(SmallInteger)
    interest_rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    currency: Mapped[str] = mapped_column(String(3))
    fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    fee_note: Mapped[str | None] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)


class ImportRunRow(Base):
    """One `quanjing import` run (domain/imports/run.py): who, which file, how far its
    committed batches got, and the counts; readable by admins and stewards."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_kind_checksum", "kind", "checksum"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(500))
    checksum: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    source_system: Mapped[str | None] = mapped_column(String(40))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(10))
    last_line: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    seconds: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRefusalRow(Base):
    """A record an import run refused: the line of its machine-readable report."""

    __tablename__ = "import_refusals"
    __table_args__ = (
        Index("ix_import_refusals_run_id_line", "run_id", "line"),
        # importRuns { refusals }: a run's refusals in the order written, keyset-paged.
        Index("ix_import_refusals_run_id_id", "run_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    line: Mapped[int] = mapped_column(BigInteger)
    source_key: Mapped[str | None] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))


class ImportPendingRow(Base):
    """A record kept by `--defer-missing` until the customer it names arrives (by a later
    customers import or registration): then the next import writes it."""

    __tablename__ = "import_pending"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref"),
        Index("ix_import_pending_customer", "customer_system", "customer_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str] = mapped_column(String(100))
    customer_system: Mapped[str] = mapped_column(String(40))
    customer_key: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    line: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()


class MatchCandidateRow(Base):
    """A pair of customers the matcher thinks may be one (domain/identity/matching.py), with
    its score and evidence, for a data steward to decide; the lower id first."""

    __tablename__ = "match_candidates"
    __table_args__ = (
        UniqueConstraint("left_id", "right_id"),
        CheckConstraint("left_id < right_id", name="ordered"),
        Index("ix_match_candidates_status_probability", "status", text("probability DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    left_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    right_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    probability: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    model_version: Mapped[str] = mapped_column(String(40))
    # pending, not_same (a steward's decision), merged, superseded (one record merged away)
    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    found_at: Mapped[datetime] = _now()
    # What was compared when it was last scored (domain/identity/matching.py `fingerprint`).
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    # The compared fields of both records when decided: a not_same pair is proposed again
    # only once this changes (domain/identity/matching.py `fingerprint`).
    decided_fingerprint: Mapped[str | None] = mapped_column(String(64))


class PinyinReadingRow(Base):
    """One reading per Chinese character (pypinyin's, at migration time): what the database
    spells names in pinyin with, for search (migrations: name_pinyin)."""

    __tablename__ = "pinyin_readings"

    ch: Mapped[str] = mapped_column(Text, primary_key=True)
    reading: Mapped[str] = mapped_column(Text)


class CustomerMatchKeyRow(Base):
    """The blocking keys of every customer (domain/identity/matching.py `blocking_keys`): a new
    or changed record finds its candidates by them without a scan. Rebuilt by
    `quanjing resolve`, kept by every write that changes what the matcher compares."""

    __tablename__ = "customer_match_keys"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class CustomerMergeRow(Base):
    """One merge: who decided it on what evidence, both records as they were, the values the
    survivor took and their lineage; an unmerge reads it back (api/db/merges.py)."""

    __tablename__ = "customer_merges"
    __table_args__ = (
        Index("ix_customer_merges_merged", "merged_id", "id"),
        Index("ix_customer_merges_survivor", "survivor_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("match_candidates.id"))
    status: Mapped[str] = mapped_column(String(10))  # merged, unmerged
    probability: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(String(500))
    survivor_before: Mapped[dict[str, Any]] = mapped_column(JSONB)
    merged_before: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # column → the value the merge set on the survivor; lineage: field → where it came from.
    survivor_set: Mapped[dict[str, Any]] = mapped_column(JSONB)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What else the merge decided: the relationship state, the RM, consents.
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = _now()
    undone_by: Mapped[str | None] = mapped_column(String(200))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the unmerge did: rows sent back, rows kept, rows for the steward to place.
    undo_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class CustomerMergeMoveRow(Base):
    """A row a merge moved to the survivor (or added for it): the unmerge's work list. `before`
    keeps the row's other columns the merge changed (a contact point's preference)."""

    __tablename__ = "customer_merge_moves"

    merge_id: Mapped[int] = mapped_column(ForeignKey("customer_merges.id"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    row_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action: Mapped[str] = mapped_column(String(10))  # moved, added
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class CampaignRow(Base):
    """A campaign's plan and where it stands (domain/campaigns)."""

    __tablename__ = "campaigns"
    __table_args__ = (one_of("kind", CampaignKind), one_of("status", CampaignStatus))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    segment_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    holdout_share: Mapped[Decimal] = mapped_column(Numeric(6, 5))
    budget: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    cost_per_contact: Mapped[dict[str, Any]] = mapped_column(JSONB)
    planned_contacts: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Membership frozen (campaign_members); the attribution's last run.
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attributed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignArmRow(Base):
    """One arm of a campaign: its share of the treated, channel, offers and message."""

    __tablename__ = "campaign_arms"
    __table_args__ = (one_of("channel", ContactChannel),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    share: Mapped[Decimal] = mapped_column(Numeric(6, 5))
    channel: Mapped[str] = mapped_column(String(20))
    offer_product_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    message: Mapped[str] = mapped_column(Text)


class CampaignMemberRow(Base):
    """A targeted customer of a launched campaign, frozen at launch: in (eligible) or out, and
    why; the arm (a control customer's is the arm they would have been in); the response
    score's inputs; then the contact, its outcome and the response attributed."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        one_of("reason", Reason),
        one_of("outcome", CampaignOutcome),
        one_of("response", ResponseKind),
        Index(
            "ix_campaign_members_priority",
            "campaign_id",
            "priority",
            "customer_id",
            postgresql_where=text("reason = 'eligible' AND NOT control"),
        ),
        Index(
            "ix_campaign_members_treated",
            "customer_id",
            postgresql_where=text("reason = 'eligible' AND NOT control"),
        ),
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    arm: Mapped[int] = mapped_column(SmallInteger)
    control: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(20))
    branch_id: Mapped[int | None] = mapped_column(BigInteger)
    rm_id: Mapped[int | None] = mapped_column(BigInteger)
    tier: Mapped[str | None] = mapped_column(String(10))
    recency_days: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[int | None] = mapped_column(Integer)
    monetary: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    past_contacts: Mapped[int | None] = mapped_column(Integer)
    past_responses: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    # The contact list's order, lowest first: the value tier's rank, then the score.
    priority: Mapped[int | None] = mapped_column(Integer)
    contribution_before: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    contribution_after: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(10))
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response: Mapped[str | None] = mapped_column(String(10))
    response_holding_id: Mapped[int | None] = mapped_column(BigInteger)


class ContactPolicyRow(Base):
    """The contact-frequency cap, as data (domain/campaigns/eligibility.ContactPolicy)."""

    __tablename__ = "contact_policies"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    max_contacts: Mapped[int] = mapped_column(SmallInteger)
    window_days: Mapped[int] = mapped_column(SmallInteger)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()


class ContactSuppressionRow(Base):
    """The do-not-contact list: no campaign reaches a customer on it."""

    __tablename__ = "contact_suppressions"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = _now()
