"""The completeness assessment: the items of each kind, the score, what is missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from domain.customers.completeness import ITEMS, RecordFacts, assess
from domain.customers.model import (
    ContactKind,
    CorporateDetails,
    CreditStatus,
    Customer,
    CustomerKind,
    DocumentType,
    Gender,
    PersonalDetails,
    PreferredChannel,
)

NOW = datetime(2026, 12, 5, tzinfo=UTC)
BARE_PERSON = Customer(
    id=1,
    code="P1",
    kind=CustomerKind.PERSONAL,
    display_name="只有姓名",
    home_branch_id=None,
    relationship_manager_id=None,
    preferred_channel=None,
    preferred_language=None,
    personal=PersonalDetails(None, None, None, None, None, None, CreditStatus.UNKNOWN),
    corporate=None,
    created_at=NOW,
    updated_at=NOW,
)


def _facts(customer: Customer, **extra: object) -> RecordFacts:
    values: dict[str, object] = {
        "contact_kinds": frozenset(),
        "document_types": frozenset(),
        "corporate_contacts": 0,
        **extra,
    }
    return RecordFacts(customer, **values)  # type: ignore[arg-type]


def test_a_record_with_only_a_name_scores_zero_and_misses_every_item() -> None:
    found = assess(_facts(BARE_PERSON))
    assert found.score == 0
    assert found.missing == tuple(ITEMS[CustomerKind.PERSONAL])


def test_the_usual_thin_record_name_and_id_number() -> None:
    found = assess(_facts(BARE_PERSON, document_types=frozenset({DocumentType.RESIDENT_ID})))
    assert found.score == round(100 / len(ITEMS[CustomerKind.PERSONAL]))
    assert "documents.identity" not in found.missing


def test_a_nearly_complete_person_misses_only_the_bands() -> None:
    complete = replace(
        BARE_PERSON,
        home_branch_id=3,
        preferred_channel=PreferredChannel.MOBILE_APP,
        personal=PersonalDetails(
            Gender.FEMALE, date(1990, 1, 1), "教师", "某中学", None, None, CreditStatus.GOOD
        ),
    )
    facts = _facts(
        complete,
        contact_kinds=frozenset({ContactKind.PHONE, ContactKind.ADDRESS}),
        document_types=frozenset({DocumentType.PASSPORT}),
    )
    found = assess(facts)
    assert found.missing == ("personal.incomeBand", "personal.assetBand")
    assert found.score == round(100 * 10 / 12)  # 12 items for a person, 10 present
    assert len(ITEMS[CustomerKind.PERSONAL]) == 12


def test_a_company_is_asked_for_its_own_items() -> None:
    company = replace(
        BARE_PERSON,
        kind=CustomerKind.CORPORATE,
        personal=None,
        corporate=CorporateDetails(
            "某某有限公司", None, None, "软件", None, None, None, None, None, 7, None
        ),
    )
    found = assess(
        _facts(
            company,
            document_types=frozenset({DocumentType.UNIFIED_SOCIAL_CREDIT_CODE}),
            corporate_contacts=1,
        )
    )
    present = {"documents.uscc", "corporate.industry", "corporate.legalRepresentative"}
    present.add("corporate.contacts")
    assert set(found.missing) == set(ITEMS[CustomerKind.CORPORATE]) - present
    assert not any(item.startswith("personal.") for item in found.missing)
