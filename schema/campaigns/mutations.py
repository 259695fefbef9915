"""createCampaign, approveCampaign, cancelCampaign: the maker–checker lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from domain.campaigns.lifecycle import approve_campaign, cancel_campaign, create_campaign
from domain.errors import DomainError
from domain.ids import decode_typed_id
from schema.campaigns.types import Campaign, CampaignResult, CreateCampaignInput
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import rule_error_type


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
        try:
            require(info, "approveCampaign")
            approved = await approve_campaign(
                info.context.campaigns,
                decode_typed_id(id, "Campaign"),
                info.context.principal.subject,
                datetime.now(UTC),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return Campaign.from_domain(approved)

    @strawberry.mutation(description="Cancel a campaign that has not completed.")
    async def cancel_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        try:
            require(info, "cancelCampaign")
            cancelled = await cancel_campaign(
                info.context.campaigns,
                decode_typed_id(id, "Campaign"),
                info.context.principal.subject,
                datetime.now(UTC),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return Campaign.from_domain(cancelled)
