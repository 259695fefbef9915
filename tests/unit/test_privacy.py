"""Consent is opt-in and the latest, most specific answer wins; erasure keeps what legal
holds retain and is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from domain.errors import InvalidInput, NotFound
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose, allows
from domain.privacy.erasure import (
    DataCategory,
    ErasureSubject,
    LegalHold,
    erase_personal_data,
    plan_erasure,
    validate_hold,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TODAY = date(2026, 11, 1)


def consent(
    channel: ConsentChannel,
    granted: bool,
    version: int,
    purpose: ConsentPurpose = ConsentPurpose.MARKETING,
) -> Consent:
    return Consent(1, purpose, channel, granted, version, NOW, "mobile_app", "customer")


def test_without_a_record_the_answer_is_no() -> None:
    assert not allows([], ConsentPurpose.MARKETING, ConsentChannel.SMS)


def test_a_channel_specific_answer_beats_the_general_one() -> None:
    records = [consent(ConsentChannel.ALL, True, 1), consent(ConsentChannel.SMS, False, 1)]
    assert not allows(records, ConsentPurpose.MARKETING, ConsentChannel.SMS)
    assert allows(records, ConsentPurpose.MARKETING, ConsentChannel.EMAIL)
    assert not allows(records, ConsentPurpose.PROFILING, ConsentChannel.EMAIL)


def test_the_latest_version_wins() -> None:
    records = [consent(ConsentChannel.ALL, True, 1), consent(ConsentChannel.ALL, False, 2)]
    assert not allows(records, ConsentPurpose.MARKETING, ConsentChannel.PHONE)


def hold(category: DataCategory | None, until: date, hold_id: int = 1) -> LegalHold:
    return LegalHold(hold_id, 1, category, "anti-money-laundering retention", until)


def test_an_active_hold_keeps_its_category_and_an_expired_one_keeps_nothing() -> None:
    plan = plan_erasure(
        [
            hold(DataCategory.DOCUMENTS, date(2030, 1, 1)),
            hold(DataCategory.INTERACTIONS, date(2026, 10, 31), 2),
        ],
        TODAY,
    )
    assert plan.erase == (
        DataCategory.PROFILE,
        DataCategory.CONTACT_POINTS,
        DataCategory.INTERACTIONS,
    )
    assert [(c, h.id) for c, h in plan.kept] == [(DataCategory.DOCUMENTS, 1)]


def test_a_hold_without_category_keeps_everything() -> None:
    plan = plan_erasure([hold(None, TODAY)], TODAY)  # ends today: still active today
    assert plan.erase == ()
    assert len(plan.kept) == len(DataCategory)


class FakePrivacyStore:
    def __init__(self, subject: ErasureSubject | None, holds: Sequence[LegalHold] = ()) -> None:
        self._subject = subject
        self._holds = list(holds)
        self.erased: list[tuple[DataCategory, ...]] = []

    async def subject(self, customer_id: int) -> ErasureSubject | None:
        return self._subject

    async def holds(self, customer_id: int) -> Sequence[LegalHold]:
        return self._holds

    async def erase(self, customer_id: int, categories: Sequence[DataCategory]) -> None:
        self.erased.append(tuple(categories))
        if self._subject is not None:
            self._subject = ErasureSubject(customer_id, self._subject.is_person, NOW)

    async def place_hold(self, *args: object) -> LegalHold:
        raise NotImplementedError


async def test_erasure_erases_what_is_not_held_and_repeats_harmlessly() -> None:
    store = FakePrivacyStore(
        ErasureSubject(1, True, None), [hold(DataCategory.DOCUMENTS, date(2031, 1, 1))]
    )
    first = await erase_personal_data(store, 1, TODAY)
    second = await erase_personal_data(store, 1, TODAY)
    assert (
        first.erased
        == second.erased
        == (DataCategory.PROFILE, DataCategory.CONTACT_POINTS, DataCategory.INTERACTIONS)
    )
    assert [c for c, _ in first.kept] == [DataCategory.DOCUMENTS]
    assert (first.already_erased, second.already_erased) == (False, True)


async def test_erasure_refuses_unknown_customers_and_companies() -> None:
    with pytest.raises(NotFound):
        await erase_personal_data(FakePrivacyStore(None), 1, TODAY)
    with pytest.raises(InvalidInput, match="natural person"):
        await erase_personal_data(FakePrivacyStore(ErasureSubject(1, False, None)), 1, TODAY)


def test_a_hold_needs_a_reason_and_a_future_end() -> None:
    assert validate_hold("  AML  retention ", TODAY, TODAY) == "AML retention"
    with pytest.raises(InvalidInput, match="reason"):
        validate_hold("  ", TODAY, TODAY)
    with pytest.raises(InvalidInput, match="past"):
        validate_hold("AML", date(2026, 10, 31), TODAY)
