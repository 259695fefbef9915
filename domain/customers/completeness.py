"""How complete a customer's record is (补全信息): the items a bank's KYC file asks of a person
or a company (the customer record in DOMAIN.md), which of them are missing, and a score.

Many records hold only a name and an ID number; the score tells a steward or a branch where to
start. It is kept with the record (refreshed in every transaction that changes it), so a
report over a million customers reads a column instead of recomputing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from domain.customers.model import ContactKind, CreditStatus, Customer, CustomerKind, DocumentType


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the assessment reads beyond the customer row."""

    customer: Customer
    contact_kinds: frozenset[ContactKind]
    document_types: frozenset[DocumentType]
    corporate_contacts: int


@dataclass(frozen=True, slots=True)
class Completeness:
    score: int  # 0–100: the share of the kind's items present
    missing: tuple[str, ...]  # the items missing, by profile path


Check = Callable[[RecordFacts], bool]


def _personal(name: str) -> Check:
    return lambda f: getattr(f.customer.personal, name, None) is not None


def _corporate(name: str) -> Check:
    return lambda f: getattr(f.customer.corporate, name, None) is not None


def _contact(kind: ContactKind) -> Check:
    return lambda f: kind in f.contact_kinds


_COMMON: Mapping[str, Check] = {
    "contactPoints.phone": _contact(ContactKind.PHONE),
    "contactPoints.address": _contact(ContactKind.ADDRESS),
    "homeBranch": lambda f: f.customer.home_branch_id is not None,
    "preferredChannel": lambda f: f.customer.preferred_channel is not None,
}
# The items per kind, by the profile path a client would fill in; each weighs the same.
ITEMS: Mapping[CustomerKind, Mapping[str, Check]] = {
    CustomerKind.PERSONAL: {
        "documents.identity": lambda f: bool(
            f.document_types & {DocumentType.RESIDENT_ID, DocumentType.PASSPORT}
        ),
        "personal.gender": _personal("gender"),
        "personal.birthDate": _personal("birth_date"),
        "personal.occupation": _personal("occupation"),
        "personal.employer": _personal("employer"),
        "personal.incomeBand": _personal("income_band"),
        "personal.assetBand": _personal("asset_band"),
        "personal.creditStatus": lambda f: (
            f.customer.personal is not None
            and f.customer.personal.credit_status is not CreditStatus.UNKNOWN
        ),
        **_COMMON,
    },
    CustomerKind.CORPORATE: {
        "documents.uscc": lambda f: DocumentType.UNIFIED_SOCIAL_CREDIT_CODE in f.document_types,
        "corporate.ownershipType": _corporate("ownership_type"),
        "corporate.businessScale": _corporate("business_scale"),
        "corporate.industry": _corporate("industry"),
        "corporate.lifecycleStage": _corporate("lifecycle_stage"),
        "corporate.assetStructure": _corporate("asset_structure"),
        "corporate.liabilitySources": _corporate("liability_sources"),
        "corporate.financingModes": _corporate("financing_modes"),
        "corporate.creditRecord": _corporate("credit_record"),
        "corporate.legalRepresentative": _corporate("legal_representative_id"),
        "corporate.contacts": lambda f: f.corporate_contacts > 0,
        **_COMMON,
    },
}


def assess(facts: RecordFacts) -> Completeness:
    items = ITEMS[facts.customer.kind]
    missing = tuple(path for path, present in items.items() if not present(facts))
    score = round(100 * (len(items) - len(missing)) / len(items))
    return Completeness(score, missing)


@dataclass(frozen=True, slots=True)
class BranchQuality:
    """A branch's records by completeness (branch None: customers without a home branch)."""

    branch_id: int | None
    customers: int
    assessed: int
    average: float | None
    buckets: tuple[int, ...]  # counts of scores 0–19, 20–39, 40–59, 60–79, 80–100


@dataclass(frozen=True, slots=True)
class WeakRecord:
    customer_id: int
    score: int
    missing: tuple[str, ...]


class DataQuality(Protocol):
    async def by_branch(self, branch_id: int | None) -> list[BranchQuality]: ...

    async def weakest(
        self, branch_id: int | None, after: tuple[int, int] | None, limit: int
    ) -> list[WeakRecord]:
        """The least complete records, (score, id) ascending, after the keyset `after`."""
        ...
