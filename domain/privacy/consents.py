"""Consents per purpose and channel, versioned; opt-in: no record means no."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.access.principal import Role


class ConsentPurpose(enum.StrEnum):
    MARKETING = "marketing"
    PROFILING = "profiling"
    DATA_SHARING = "data_sharing"


class ConsentChannel(enum.StrEnum):
    ALL = "all"  # applies to every channel unless a channel-specific record says otherwise
    SMS = "sms"
    EMAIL = "email"
    PHONE = "phone"
    MOBILE_APP = "mobile_app"
    WEB_BANKING = "web_banking"
    RM_VISIT = "rm_visit"


@dataclass(frozen=True, slots=True)
class Consent:
    customer_id: int
    purpose: ConsentPurpose
    channel: ConsentChannel
    granted: bool
    version: int
    recorded_at: datetime
    source: str  # where it was given: mobile_app, counter, call_center…
    actor: str  # who recorded it: the customer, or the staff member


def may_record_consent(
    role: Role, is_own: bool, is_portfolio: bool, in_counter_session: bool
) -> bool:
    """Who records a customer's consent: the customer themselves; the call center for whoever
    calls (the caller was identified before the agent took the call); a teller only inside a
    verified counter session with that customer; an RM only for their own portfolio."""
    match role:
        case Role.CUSTOMER:
            return is_own
        case Role.AGENT:
            return True
        case Role.TELLER:
            return in_counter_session
        case Role.RELATIONSHIP_MANAGER:
            return is_portfolio
        case _:
            return False


def allows(consents: Iterable[Consent], purpose: ConsentPurpose, channel: ConsentChannel) -> bool:
    """The latest channel-specific answer wins over the latest answer for all channels;
    without either, the answer is no (consent is opt-in)."""
    specific: Consent | None = None
    general: Consent | None = None
    for consent in consents:
        if consent.purpose is not purpose:
            continue
        if consent.channel is channel and (specific is None or consent.version > specific.version):
            specific = consent
        elif consent.channel is ConsentChannel.ALL and (
            general is None or consent.version > general.version
        ):
            general = consent
    decisive = specific or general
    return decisive is not None and decisive.granted


class ConsentBook(Protocol):
    """The consent service later features ask before they act."""

    async def current(self, customer_ids: Sequence[int]) -> Mapping[int, Sequence[Consent]]:
        """The latest version per (purpose, channel), per customer."""
        ...

    async def record(
        self,
        customer_id: int,
        purpose: ConsentPurpose,
        channel: ConsentChannel,
        granted: bool,
        source: str,
        actor: str,
    ) -> Consent:
        """Append a new version; earlier versions stay as evidence."""
        ...
