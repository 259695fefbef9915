"""Interactions across channels: one timeline of every contact with the customer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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
    channels: frozenset[Channel] | None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: tuple[Interaction, ...]
    has_next_page: bool
