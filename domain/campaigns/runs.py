"""Running a campaign: launch (eligibility, frozen membership, arms, contacts), outcomes,
attribution and completion. The set-based work is the store's (api/db/campaign_runs.py);
what is allowed, when, is decided here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.campaigns.eligibility import ContactPolicy, Reason
from domain.campaigns.lifecycle import Campaign, CampaignStore, found_campaign
from domain.campaigns.model import (
    CampaignOutcome,
    CampaignStateConflict,
    CampaignStatus,
    ProductRetired,
    ResponseKind,
    check_end,
    check_launch,
)
from domain.campaigns.report import Figures
from domain.campaigns.response_score import ScoreInputs
from domain.errors import InvalidInput, NotFound, RuleViolation

MAX_OUTCOME_NOTE = 2000


class NotACampaignContact(RuleViolation):
    """The customer is not one the campaign contacts: out of it, or in its control group."""

    code = "NOT_A_CAMPAIGN_CONTACT"


@dataclass(frozen=True, slots=True)
class Launch:
    """What a launch froze: targeted customers by reason, and the contacts it made."""

    by_reason: Mapping[Reason, int]
    treated: int  # eligible and in an arm
    control: int  # eligible and held out
    tasks_opened: int  # RM visits, outbound calls, counter offers
    digital_sent: int  # app pushes, SMS, e-mails: interactions and campaign.contact events


@dataclass(frozen=True, slots=True)
class Member:
    """A campaign member as the contact lists and the outcome recording read it."""

    campaign_id: int
    customer_id: int
    arm: int
    control: bool
    reason: Reason
    task_id: int | None
    interaction_id: int | None
    outcome: CampaignOutcome | None
    tier: str | None = None
    score_inputs: ScoreInputs | None = None  # eligible members only
    priority: int | None = None
    contacted_at: datetime | None = None
    response: ResponseKind | None = None
    responded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MemberFilter:
    reason: Reason | None = None
    control: bool | None = None
    arm: int | None = None


# A member page's position: (priority, customer id), the list's order; the priority of a
# member out of the campaign is LAST.
LAST = 2**31 - 1


class CampaignRuns(Protocol):
    async def launch(
        self, campaign: Campaign, policy: ContactPolicy, actor: str, now: datetime
    ) -> Launch | None:
        """Freeze membership and make the contacts, moving the campaign approved → running,
        all in one transaction; None when the campaign was no longer approved (raced)."""
        ...

    async def policy(self) -> ContactPolicy: ...

    async def member(self, campaign_id: int, customer_id: int) -> Member | None: ...

    async def members_page(
        self, campaign_id: int, first: int, after: tuple[int, int] | None, filter: MemberFilter
    ) -> list[Member]:
        """Best first: eligible members by priority (value tier, then response score), then
        everyone out of the campaign; by customer id within a priority."""
        ...

    async def set_do_not_contact(self, customer_id: int, reason: str | None, actor: str) -> bool:
        """Put the customer on the list (a reason) or off it (None); whether they exist."""
        ...

    async def save_policy(self, policy: ContactPolicy, actor: str) -> ContactPolicy: ...

    async def record_outcome(
        self,
        campaign: Campaign,
        member: Member,
        outcome: CampaignOutcome,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> int:
        """Record the contact and its outcome (an interaction carrying campaign and arm; the
        task completed) in one transaction; the interaction's id."""
        ...

    async def attribute(self, campaign: Campaign, now: datetime) -> int:
        """Mark every member's response (offered product opened in the window, or accepted),
        control alike, and the contribution after; the members responded."""
        ...

    async def complete(self, campaign: Campaign, actor: str, now: datetime) -> Campaign | None:
        """Attribute once more and move running → completed; None when raced."""
        ...

    async def figures(self, campaign: Campaign) -> Figures:
        """The report's counts: per arm and control slice, and per channel, branch and RM."""
        ...


async def launch_campaign(
    store: CampaignStore, runs: CampaignRuns, campaign_id: int, actor: str, now: datetime
) -> tuple[Campaign, Launch]:
    campaign = await found_campaign(store, campaign_id)
    check_launch(campaign.status)
    if now >= campaign.plan.ends_at:
        raise CampaignStateConflict("the campaign's window has closed; it can no longer launch")
    plan = campaign.plan
    known = await store.segments_known(plan.segment_ids)
    for segment in plan.segment_ids:
        if segment not in known:
            raise NotFound("segment", str(segment))
    offered = sorted({p for arm in plan.arms for p in arm.offer_product_ids})
    retired = await store.products_retired(offered)
    if any(retired.get(p, True) for p in offered):
        raise ProductRetired("an offered product was retired after approval; plan again")
    launched = await runs.launch(campaign, await runs.policy(), actor, now)
    if launched is None:
        raise CampaignStateConflict("the campaign changed meanwhile; read it again")
    return await found_campaign(store, campaign_id), launched


async def record_campaign_outcome(
    store: CampaignStore,
    runs: CampaignRuns,
    campaign_id: int,
    customer_id: int,
    outcome: CampaignOutcome,
    note: str | None,
    actor: str,
    now: datetime,
) -> int:
    campaign = await found_campaign(store, campaign_id)
    if campaign.status is not CampaignStatus.RUNNING:
        raise CampaignStateConflict(
            f"outcomes are recorded while a campaign runs; this one is {campaign.status.value}"
        )
    text = " ".join(note.split()) if note else None
    if text is not None and len(text) > MAX_OUTCOME_NOTE:
        raise InvalidInput("note", f"at most {MAX_OUTCOME_NOTE} characters")
    member = await runs.member(campaign_id, customer_id)
    if member is None or member.reason is not Reason.ELIGIBLE or member.control:
        raise NotACampaignContact(
            "the customer is not contacted by this campaign (not targeted, out, or control)"
        )
    if member.outcome not in (None, CampaignOutcome.NO_ANSWER):
        raise CampaignStateConflict(f"this contact's outcome is {member.outcome}, already final")
    return await runs.record_outcome(campaign, member, outcome, text, actor, now)


async def attribute_campaign(
    store: CampaignStore, runs: CampaignRuns, campaign_id: int, now: datetime
) -> tuple[Campaign, int]:
    campaign = await found_campaign(store, campaign_id)
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.COMPLETED):
        raise CampaignStateConflict("only a launched campaign has responses to attribute")
    responded = await runs.attribute(campaign, now)
    return await found_campaign(store, campaign_id), responded


async def complete_campaign(
    store: CampaignStore, runs: CampaignRuns, campaign_id: int, actor: str, now: datetime
) -> Campaign:
    campaign = await found_campaign(store, campaign_id)
    check_end(campaign.status, CampaignStatus.COMPLETED)
    completed = await runs.complete(campaign, actor, now)
    if completed is None:
        raise CampaignStateConflict("the campaign changed meanwhile; read it again")
    return completed


@dataclass(frozen=True, slots=True)
class Upkeep:
    attributed: int  # running campaigns whose responses were counted again
    completed: int  # campaigns whose window had closed, completed


UPKEEP_ACTOR = "quanjing-worker"


async def campaign_upkeep(store: CampaignStore, runs: CampaignRuns, now: datetime) -> Upkeep:
    """The worker's daily pass: every running campaign's responses counted again (holdings
    opened since yesterday), and campaigns whose window has closed completed."""
    attributed = completed = 0
    after: int | None = None
    while page := await store.page(100, after, CampaignStatus.RUNNING):
        for campaign in page:
            if now >= campaign.plan.ends_at:
                if await runs.complete(campaign, UPKEEP_ACTOR, now) is not None:
                    completed += 1
            else:
                await runs.attribute(campaign, now)
                attributed += 1
        after = page[-1].id
    return Upkeep(attributed=attributed, completed=completed)
