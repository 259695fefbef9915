"""The customer record (客户档案): personal and corporate customers and what identifies them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime


class CustomerKind(enum.StrEnum):
    PERSONAL = "personal"
    CORPORATE = "corporate"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNDISCLOSED = "undisclosed"


class IncomeBand(enum.StrEnum):
    """Monthly income bands in CNY, as the bank's KYC form asks them."""

    UNDER_5K = "under_5k"
    FROM_5K_TO_10K = "5k_10k"
    FROM_10K_TO_30K = "10k_30k"
    FROM_30K_TO_100K = "30k_100k"
    OVER_100K = "over_100k"


class AssetBand(enum.StrEnum):
    """Financial assets held with all banks, in CNY, as declared by the customer."""

    UNDER_50K = "under_50k"
    FROM_50K_TO_500K = "50k_500k"
    FROM_500K_TO_6M = "500k_6m"
    OVER_6M = "over_6m"


class CreditStatus(enum.StrEnum):
    GOOD = "good"
    WATCH = "watch"
    DEFAULTED = "defaulted"
    UNKNOWN = "unknown"


class OwnershipType(enum.StrEnum):
    """产权成分: who owns the enterprise."""

    STATE_OWNED = "state_owned"
    COLLECTIVE = "collective"
    PRIVATE = "private"
    FOREIGN_INVESTED = "foreign_invested"
    JOINT_STOCK = "joint_stock"
    OTHER = "other"


class BusinessScale(enum.StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class LifecycleStage(enum.StrEnum):
    """Enterprise and industry life-cycle stage; informs relationship entry and exit."""

    START_UP = "start_up"
    GROWTH = "growth"
    MATURE = "mature"
    DECLINE = "decline"


class LifecycleStatus(enum.StrEnum):
    """A prospect (潜在客户) is known to the bank but holds no product yet; the first product
    makes them a customer, and the conversion is recorded."""

    PROSPECT = "prospect"
    ACTIVE = "active"


class PreferredChannel(enum.StrEnum):
    COUNTER = "counter"
    CALL_CENTER = "call_center"
    MOBILE_APP = "mobile_app"
    WEB_BANKING = "web_banking"
    RM_VISIT = "rm_visit"


class ContactKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class DocumentType(enum.StrEnum):
    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    UNIFIED_SOCIAL_CREDIT_CODE = "uscc"


@dataclass(frozen=True, slots=True)
class PersonalDetails:
    """What the bank knows of a natural person (自然人)."""

    gender: Gender | None
    birth_date: date | None
    occupation: str | None
    employer: str | None
    income_band: IncomeBand | None
    asset_band: AssetBand | None
    credit_status: CreditStatus
    credit_status_source: str | None = None  # who reported it (bureau, loan system, RM)


@dataclass(frozen=True, slots=True)
class CorporateDetails:
    """What the bank knows of a company or institution (公司/机构)."""

    registered_name: str
    ownership_type: OwnershipType | None
    business_scale: BusinessScale | None
    industry: str | None
    lifecycle_stage: LifecycleStage | None
    asset_structure: str | None
    liability_sources: str | None
    financing_modes: str | None
    credit_record: str | None
    legal_representative_id: int | None
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer record; exactly one of `personal` and `corporate` is set."""

    id: int
    code: str
    kind: CustomerKind
    display_name: str
    home_branch_id: int | None
    relationship_manager_id: int | None
    preferred_channel: PreferredChannel | None
    preferred_language: str | None
    personal: PersonalDetails | None
    corporate: CorporateDetails | None
    created_at: datetime
    updated_at: datetime
    lifecycle_status: LifecycleStatus = LifecycleStatus.ACTIVE
    version: int = 1  # the master record's version (updateCustomer's expectedVersion)
    converted_at: datetime | None = None  # when a prospect took their first product
    # Set while this record is merged into another (domain/identity/merging.py).
    merged_into_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """A phone, e-mail or postal address; at most one preferred per kind."""

    id: int
    customer_id: int
    kind: ContactKind
    value: str
    label: str | None
    is_preferred: bool
    verified: bool


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    """A document that identifies the customer; the number is stored normalized."""

    id: int
    customer_id: int
    type: DocumentType
    number: str
    issuing_country: str
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class CorporateContact:
    """A person who acts for a corporate customer (who is a customer too)."""

    corporate_id: int
    person_id: int
    role: str
