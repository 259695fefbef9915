"""When and how to contact a customer about an alert (NCR Relationship Optimizer's "next
contact": its time and its method), planned from the alert's severity, the customer's value
tier and the channel the customer prefers and has consented to.

The rules are small and read at a glance, so they live here as data, with the reasons in
docs/detection.md; a planned task still has an owner who may call sooner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.customers.model import PreferredChannel
from domain.detection.rules import Severity
from domain.interactions import Channel
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose, allows
from domain.value.tiers import ValueTier

# How soon a finding of each severity is followed up, before the tier adjusts it.
DUE_BY_SEVERITY = {
    Severity.HIGH: timedelta(days=1),
    Severity.MEDIUM: timedelta(days=3),
    Severity.LOW: timedelta(days=7),
}
# The customers who matter most to the bank are called sooner; those who cost it more than
# they bring, later. Unscored customers (new, or no month scored yet) keep the severity's.
TIER_FACTOR = {
    ValueTier.HIGH: 0.5,
    ValueTier.POTENTIAL: 1.0,
    ValueTier.LOW: 1.5,
    ValueTier.NEGATIVE: 2.0,
}
SOONEST = timedelta(hours=4)  # an owner needs a few working hours to act at all

# The outbound method each preferred channel means, and the consent that allows it. A
# customer who prefers the counter comes to the bank; the bank calls them instead.
_METHOD = {
    PreferredChannel.CALL_CENTER: (Channel.CALL_CENTER, ConsentChannel.PHONE),
    PreferredChannel.MOBILE_APP: (Channel.MOBILE_APP, ConsentChannel.MOBILE_APP),
    PreferredChannel.WEB_BANKING: (Channel.WEB_BANKING, ConsentChannel.WEB_BANKING),
    PreferredChannel.RM_VISIT: (Channel.RM_VISIT, ConsentChannel.RM_VISIT),
}


@dataclass(frozen=True, slots=True)
class ContactProfile:
    """What the plan reads of a customer."""

    tier: ValueTier | None  # latest scored month; None: never scored
    preferred: PreferredChannel | None
    consents: Sequence[Consent]  # the customer's consent records (any purpose, any version)
    has_rm: bool


UNKNOWN = ContactProfile(tier=None, preferred=None, consents=(), has_rm=False)


@dataclass(frozen=True, slots=True)
class ContactPlan:
    due_at: datetime
    channel: Channel
    reason: str  # why this method, in words the owner reads on the task


def plan_contact(severity: Severity, profile: ContactProfile, now: datetime) -> ContactPlan:
    factor = 1.0 if profile.tier is None else TIER_FACTOR[profile.tier]
    due = max(SOONEST, DUE_BY_SEVERITY[severity] * factor)
    channel, reason = _method(profile)
    return ContactPlan(due_at=now + due, channel=channel, reason=reason)


def _method(profile: ContactProfile) -> tuple[Channel, str]:
    preferred = None if profile.preferred is None else _METHOD.get(profile.preferred)
    if preferred is not None:
        channel, consent = preferred
        allowed = allows(profile.consents, ConsentPurpose.MARKETING, consent)
        if allowed and (channel is not Channel.RM_VISIT or profile.has_rm):
            return channel, "the customer's preferred channel, consented to"
    # A follow-up of the bank's own service needs no marketing consent: a call, or for the
    # customers who matter most and have an RM, a visit.
    if profile.tier is ValueTier.HIGH and profile.has_rm:
        return Channel.RM_VISIT, "a high-value customer: their RM visits"
    return Channel.CALL_CENTER, "a service call (no consented preferred channel)"
