"""Erasure of a customer's personal data, except what a legal hold keeps."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from domain.errors import DomainError, InvalidInput, NotFound


class DataCategory(enum.StrEnum):
    PROFILE = "profile"  # name, birth date, occupation, bands, preferences
    CONTACT_POINTS = "contact_points"
    DOCUMENTS = "documents"
    # Every free text written about the customer: the timeline's summaries, task titles and
    # results, notes on state changes and proposals, assignment reasons, ownership-claim notes.
    INTERACTIONS = "interactions"


@dataclass(frozen=True, slots=True)
class LegalHold:
    """Records under legal retention: kept until `until`, whatever else is erased."""

    id: int
    customer_id: int
    category: DataCategory | None  # None: every category
    reason: str
    until: date

    def active_on(self, day: date) -> bool:
        return self.until >= day

    def covers(self, category: DataCategory) -> bool:
        return self.category is None or self.category is category


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    erase: tuple[DataCategory, ...]
    kept: tuple[tuple[DataCategory, LegalHold], ...]


def plan_erasure(holds: Sequence[LegalHold], today: date) -> ErasurePlan:
    """Every category is erased unless an active hold covers it."""
    erase: list[DataCategory] = []
    kept: list[tuple[DataCategory, LegalHold]] = []
    for category in DataCategory:
        hold = next((h for h in holds if h.active_on(today) and h.covers(category)), None)
        if hold is None:
            erase.append(category)
        else:
            kept.append((category, hold))
    return ErasurePlan(erase=tuple(erase), kept=tuple(kept))


@dataclass(frozen=True, slots=True)
class ErasureReport:
    customer_id: int
    erased: tuple[DataCategory, ...]
    kept: tuple[tuple[DataCategory, LegalHold], ...]
    already_erased: bool


@dataclass(frozen=True, slots=True)
class ErasureSubject:
    customer_id: int
    is_person: bool
    erased_at: datetime | None


class PrivacyStore(Protocol):
    async def subject(self, customer_id: int) -> ErasureSubject | None:
        """The customer as erasure sees it; None when there is no such customer."""
        ...

    async def holds(self, customer_id: int) -> Sequence[LegalHold]:
        """Every legal hold on the customer, active or not."""
        ...

    async def erase(self, customer_id: int, categories: Sequence[DataCategory]) -> None:
        """Anonymize the categories in one transaction, then remove the copies kept outside
        the database (cached answers). Repeating it changes nothing more. Raises
        ErasureIncomplete when the database is erased but a copy could not be removed."""
        ...

    async def place_hold(
        self,
        customer_id: int,
        category: DataCategory | None,
        reason: str,
        until: date,
        placed_by: str,
    ) -> LegalHold:
        """Record a legal hold."""
        ...


async def erase_personal_data(store: PrivacyStore, customer_id: int, today: date) -> ErasureReport:
    """Anonymize a natural person's data, keeping (and reporting) what legal holds retain."""
    subject = await store.subject(customer_id)
    if subject is None:
        raise NotFound("customer", str(customer_id))
    if not subject.is_person:
        raise InvalidInput("customerId", "only a natural person's data is personal data")
    plan = plan_erasure(await store.holds(customer_id), today)
    if plan.erase:
        await store.erase(customer_id, plan.erase)
    return ErasureReport(
        customer_id=customer_id,
        erased=plan.erase,
        kept=plan.kept,
        already_erased=subject.erased_at is not None,
    )


class ErasureIncomplete(DomainError):
    code = "ERASURE_INCOMPLETE"

    def __init__(self) -> None:
        super().__init__(
            "the records are erased; cached copies could not be removed yet: run the erasure "
            "again (it is safe to repeat)"
        )


MAX_HOLD_REASON = 500


def validate_hold(reason: str, until: date, today: date) -> str:
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("reason", "a legal hold needs a reason")
    if len(text) > MAX_HOLD_REASON:
        raise InvalidInput("reason", f"the reason is longer than {MAX_HOLD_REASON}")
    if until < today:
        raise InvalidInput("until", "a legal hold cannot end in the past")
    return text
