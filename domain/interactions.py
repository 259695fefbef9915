"""Interactions across channels: one timeline of every contact with the customer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.errors import InvalidInput


class Channel(enum.StrEnum):
    COUNTER = "counter"
    CALL_CENTER = "call_center"
    MOBILE_APP = "mobile_app"
    WEB_BANKING = "web_banking"
    SELF_SERVICE = "self_service"  # ATM and self-service kiosks
    RM_VISIT = "rm_visit"
    SMS = "sms"
    EMAIL = "email"


class InteractionKind(enum.StrEnum):
    INQUIRY = "inquiry"
    TRANSACTION = "transaction"
    COMPLAINT = "complaint"
    MARKETING_CONTACT = "marketing_contact"
    SERVICE_REQUEST = "service_request"
    FOLLOW_UP = "follow_up"


class InteractionOutcome(enum.StrEnum):
    RESOLVED = "resolved"
    PENDING = "pending"
    ESCALATED = "escalated"
    DECLINED = "declined"
    NO_CONTACT = "no_contact"
    ACCEPTED = "accepted"  # an offer taken up (a campaign contact's outcome)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One contact; `cost` is the recorded cost to serve, never a guess (None if unknown)."""

    id: int
    customer_id: int
    channel: Channel
    kind: InteractionKind
    occurred_at: datetime
    branch_id: int | None
    staff_code: str | None
    cost: Decimal | None
    outcome: InteractionOutcome | None
    summary: str | None
    satisfaction: int | None


MAX_SUMMARY = 2000
MAX_OFFERS = 20
MAX_OFFER_LENGTH = 100
MAX_STAFF_CODE = 40
# Nothing a channel reports happened before this: an earlier time is a missing value sent as a
# zero date (0001-01-01 or the Unix epoch), and would sit at the far end of every timeline.
EARLIEST_OCCURRED_AT = datetime(1970, 1, 2, tzinfo=UTC)
MAX_COST = Decimal("10000000000")  # the column holds 10 digits before the point
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class NewInteraction:
    """What a channel reports; validated before anything is written."""

    customer_id: int
    channel: Channel
    kind: InteractionKind
    occurred_at: datetime
    branch_id: int | None
    staff_code: str | None
    cost: Decimal | None
    outcome: InteractionOutcome | None
    summary: str | None
    offers: tuple[str, ...]
    products_discussed: tuple[int, ...]
    satisfaction: int | None


def validate_interaction(
    draft: NewInteraction, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW
) -> NewInteraction:
    """Refuse what cannot be true or cannot be stored; trim what is only untidy."""
    if draft.occurred_at.tzinfo is None:
        raise InvalidInput("occurredAt", "the time needs a time zone")
    if draft.occurred_at > now + skew:
        raise InvalidInput("occurredAt", "the interaction is in the future")
    if draft.occurred_at < EARLIEST_OCCURRED_AT:
        raise InvalidInput("occurredAt", "the time is before 1970: a zero date sent for none?")
    if draft.cost is not None and not draft.cost.is_finite():
        raise InvalidInput("cost", "the cost to serve is not a number")
    if draft.cost is not None and draft.cost < 0:
        raise InvalidInput("cost", "the cost to serve cannot be negative")
    if draft.cost is not None and draft.cost >= MAX_COST:
        raise InvalidInput("cost", f"the cost to serve must be below {MAX_COST:,}")
    if draft.cost is not None and draft.cost != draft.cost.quantize(Decimal("0.01")):
        raise InvalidInput("cost", "the cost has at most 2 decimals")
    if draft.satisfaction is not None and not 1 <= draft.satisfaction <= 5:
        raise InvalidInput("satisfaction", "satisfaction is from 1 to 5")
    summary = draft.summary.strip() if draft.summary else None
    if summary is not None and len(summary) > MAX_SUMMARY:
        raise InvalidInput("summary", f"the summary is longer than {MAX_SUMMARY} characters")
    staff = draft.staff_code.strip() if draft.staff_code else None
    if staff is not None and len(staff) > MAX_STAFF_CODE:
        raise InvalidInput("staffCode", f"the staff code is longer than {MAX_STAFF_CODE}")
    offers = tuple(o.strip() for o in draft.offers if o.strip())
    if len(offers) > MAX_OFFERS:
        raise InvalidInput("offers", f"at most {MAX_OFFERS} offers per interaction")
    if any(len(o) > MAX_OFFER_LENGTH for o in offers):
        raise InvalidInput("offers", f"an offer is longer than {MAX_OFFER_LENGTH} characters")
    return NewInteraction(
        customer_id=draft.customer_id,
        channel=draft.channel,
        kind=draft.kind,
        occurred_at=draft.occurred_at,
        branch_id=draft.branch_id,
        staff_code=staff or None,
        cost=draft.cost,
        outcome=draft.outcome,
        summary=summary or None,
        offers=offers,
        products_discussed=tuple(dict.fromkeys(draft.products_discussed)),
        satisfaction=draft.satisfaction,
    )


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    """Which part of the timeline: any combination narrows it."""

    channels: frozenset[Channel] | None = None
    kinds: frozenset[InteractionKind] | None = None
    since: datetime | None = None
    until: datetime | None = None
    staff_code: str | None = None
    branch_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelUse:
    channel: Channel
    count: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class TimelinePosition:
    """Where a page of the timeline starts: strictly older than (occurred_at, id)."""

    occurred_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class TimelineRequest:
    """One page of one customer's timeline, newest first, ties broken by id."""

    customer_id: int
    first: int
    after: TimelinePosition | None
    filter: TimelineFilter = TimelineFilter()


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: tuple[Interaction, ...]
    has_next_page: bool
