"""Creating, approving and cancelling campaigns: the plan checked against what exists now, the
lifecycle's steps taken compare-and-set, so two checkers cannot both approve one campaign."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.campaigns.model import (
    CampaignPlan,
    CampaignStateConflict,
    CampaignStatus,
    check_approval,
    check_end,
    validate_plan,
)
from domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    plan: CampaignPlan
    status: CampaignStatus
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    ended_at: datetime | None
    launched_at: datetime | None = None  # membership frozen, contacts made
    attributed_at: datetime | None = None  # responses last counted


@dataclass(frozen=True, slots=True)
class InteractionOffers:
    """What an interaction offered, and the campaign and arm it was a contact of."""

    offers: tuple[str, ...]
    campaign_id: int | None
    campaign_name: str | None
    arm: str | None


@dataclass(frozen=True, slots=True)
class DoNotContact:
    """A customer on the do-not-contact list: no campaign reaches them."""

    customer_id: int
    reason: str
    placed_at: datetime


class CampaignStore(Protocol):
    async def segments_known(self, ids: Sequence[int]) -> list[int]:
        """Those of the ids that are saved segments."""
        ...

    async def products_retired(self, ids: Sequence[int]) -> dict[int, bool]:
        """Each existing product among the ids, and whether it is retired."""
        ...

    async def create(self, plan: CampaignPlan, actor: str) -> Campaign: ...

    async def do_not_contact(self, customer_ids: Sequence[int]) -> dict[int, DoNotContact]: ...

    async def offers_by_interaction(
        self, interaction_ids: Sequence[int]
    ) -> dict[int, InteractionOffers]: ...

    async def get(self, campaign_id: int) -> Campaign | None: ...

    async def move(
        self,
        campaign_id: int,
        expected: CampaignStatus,
        to: CampaignStatus,
        actor: str,
        at: datetime,
    ) -> Campaign | None:
        """The campaign moved to `to`, or None when it was no longer `expected` (raced)."""
        ...

    async def page(
        self, first: int, after: int | None, status: CampaignStatus | None
    ) -> list[Campaign]: ...


async def create_campaign(
    store: CampaignStore, plan: CampaignPlan, actor: str, now: datetime
) -> Campaign:
    products = sorted({p for arm in plan.arms for p in arm.offer_product_ids})
    validate_plan(
        plan,
        now,
        await store.segments_known(plan.segment_ids),
        await store.products_retired(products),
    )
    return await store.create(plan, actor)


async def found_campaign(store: CampaignStore, campaign_id: int) -> Campaign:
    """The campaign, or NOT_FOUND."""
    campaign = await store.get(campaign_id)
    if campaign is None:
        raise NotFound("campaign", str(campaign_id))
    return campaign


async def _moved(
    store: CampaignStore, campaign: Campaign, to: CampaignStatus, actor: str, now: datetime
) -> Campaign:
    moved = await store.move(campaign.id, campaign.status, to, actor, now)
    if moved is None:
        raise CampaignStateConflict("the campaign changed meanwhile; read it again")
    return moved


async def approve_campaign(
    store: CampaignStore, campaign_id: int, checker: str, now: datetime
) -> Campaign:
    campaign = await found_campaign(store, campaign_id)
    check_approval(campaign.status, campaign.created_by, checker)
    return await _moved(store, campaign, CampaignStatus.APPROVED, checker, now)


async def cancel_campaign(
    store: CampaignStore, campaign_id: int, actor: str, now: datetime
) -> Campaign:
    campaign = await found_campaign(store, campaign_id)
    check_end(campaign.status, CampaignStatus.CANCELLED)
    return await _moved(store, campaign, CampaignStatus.CANCELLED, actor, now)
