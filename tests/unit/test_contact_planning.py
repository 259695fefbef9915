"""Contact planning: the due time from severity and tier, the method from the preferred
channel the customer consented to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.contact_planning import UNKNOWN, ContactProfile, plan_contact
from domain.customers.model import PreferredChannel
from domain.detection.rules import Severity
from domain.interactions import Channel
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose
from domain.value.tiers import ValueTier

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


def _consent(channel: ConsentChannel, granted: bool, version: int = 1) -> Consent:
    return Consent(1, ConsentPurpose.MARKETING, channel, granted, version, NOW, "app", "c")


def _profile(
    tier: ValueTier | None = None,
    preferred: PreferredChannel | None = None,
    consents: tuple[Consent, ...] = (),
    has_rm: bool = True,
) -> ContactProfile:
    return ContactProfile(tier=tier, preferred=preferred, consents=consents, has_rm=has_rm)


@pytest.mark.parametrize(
    ("severity", "tier", "due"),
    [
        (Severity.HIGH, None, timedelta(days=1)),
        (Severity.MEDIUM, None, timedelta(days=3)),
        (Severity.LOW, None, timedelta(days=7)),
        (Severity.HIGH, ValueTier.HIGH, timedelta(hours=12)),
        (Severity.MEDIUM, ValueTier.HIGH, timedelta(days=1, hours=12)),
        (Severity.MEDIUM, ValueTier.LOW, timedelta(days=4, hours=12)),
        (Severity.LOW, ValueTier.NEGATIVE, timedelta(days=14)),
        (Severity.MEDIUM, ValueTier.POTENTIAL, timedelta(days=3)),
    ],
)
def test_the_due_time_follows_severity_then_tier(
    severity: Severity, tier: ValueTier | None, due: timedelta
) -> None:
    assert plan_contact(severity, _profile(tier=tier), NOW).due_at == NOW + due


def test_no_plan_is_due_sooner_than_a_few_working_hours() -> None:
    # HIGH × high tier is 12 h; nothing configured goes below SOONEST (4 h) either.
    assert plan_contact(Severity.HIGH, _profile(tier=ValueTier.HIGH), NOW).due_at >= NOW + (
        timedelta(hours=4)
    )


def test_the_preferred_channel_is_used_only_with_consent() -> None:
    app = PreferredChannel.MOBILE_APP
    granted = (_consent(ConsentChannel.MOBILE_APP, True),)
    assert plan_contact(Severity.LOW, _profile(preferred=app, consents=granted), NOW).channel == (
        Channel.MOBILE_APP
    )
    # "All channels" counts, and a later channel-specific refusal overrides it.
    everywhere = (_consent(ConsentChannel.ALL, True),)
    assert plan_contact(
        Severity.LOW, _profile(preferred=app, consents=everywhere), NOW
    ).channel is (Channel.MOBILE_APP)
    refused = (*everywhere, _consent(ConsentChannel.MOBILE_APP, False, version=2))
    assert plan_contact(Severity.LOW, _profile(preferred=app, consents=refused), NOW).channel is (
        Channel.CALL_CENTER
    )
    assert plan_contact(Severity.LOW, _profile(preferred=app), NOW).channel is Channel.CALL_CENTER


def test_without_a_consented_preference_high_value_customers_get_their_rm_s_visit() -> None:
    high = _profile(tier=ValueTier.HIGH, preferred=PreferredChannel.COUNTER)
    assert plan_contact(Severity.MEDIUM, high, NOW).channel is Channel.RM_VISIT
    no_rm = _profile(tier=ValueTier.HIGH, has_rm=False)
    assert plan_contact(Severity.MEDIUM, no_rm, NOW).channel is Channel.CALL_CENTER
    # A preferred visit needs an RM to make it.
    visit = (_consent(ConsentChannel.RM_VISIT, True),)
    wants_visit = _profile(preferred=PreferredChannel.RM_VISIT, consents=visit, has_rm=False)
    assert plan_contact(Severity.LOW, wants_visit, NOW).channel is Channel.CALL_CENTER
    assert plan_contact(Severity.LOW, UNKNOWN, NOW).channel is Channel.CALL_CENTER
