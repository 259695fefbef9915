"""createCampaign, approveCampaign, cancelCampaign: the maker–checker lifecycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import strawberry

from domain.campaigns.lifecycle import (
    Campaign as CampaignModel,
)
from domain.campaigns.lifecycle import (
    CampaignStore,
    approve_campaign,
    cancel_campaign,
    create_campaign,
)
from domain.errors import DomainError
from domain.ids import decode_typed_id
from schema.campaigns.types import Campaign, CampaignResult, CreateCampaignInput
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import rule_error_type

Step = Callable[[CampaignStore, int, str, datetime], Awaitable[CampaignModel]]


async def _step(info: Info, root_field: str, id: strawberry.ID, step: Step) -> CampaignResult:
    """One lifecycle step on a campaign, by the signed-in caller."""
    try:
        require(info, root_field)
        moved = await step(
            info.context.campaigns,
            decode_typed_id(id, "Campaign"),
            info.context.principal.subject,
            datetime.now(UTC),
        )
    except DomainError as exc:
        return rule_error_type(exc)
    return Campaign.from_domain(moved)


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(
        description="Create a campaign as a draft; nothing is written when any check fails."
    )
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CampaignResult:
        try:
            require(info, "createCampaign")
            plan = input.to_plan()
            created = await create_campaign(
                info.context.campaigns, plan, info.context.principal.subject, datetime.now(UTC)
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return Campaign.from_domain(created)

    @strawberry.mutation(
        description="Approve a draft (not its maker: MAKER_CHECKER_VIOLATION); it may then run."
    )
    async def approve_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        return await _step(info, "approveCampaign", id, approve_campaign)

    @strawberry.mutation(description="Cancel a campaign that has not completed.")
    async def cancel_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        return await _step(info, "cancelCampaign", id, cancel_campaign)
