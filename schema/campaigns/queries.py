"""campaign, campaigns and campaignSampleSize."""

from __future__ import annotations

import strawberry

from domain.campaigns.model import CampaignStatus
from domain.errors import DomainError
from domain.ids import decode_typed_id
from schema.campaigns.types import Campaign, CampaignConnection
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import check_first, decode_id_cursor, edges, split_page


@strawberry.type
class CampaignQueries:
    @strawberry.field(description="A campaign; null if there is none with this id.")
    async def campaign(self, info: Info, id: strawberry.ID) -> Campaign | None:
        try:
            require(info, "campaign")
            pk = decode_typed_id(id, "Campaign")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.campaigns.get(pk)
        return None if found is None else Campaign.from_domain(found)

    @strawberry.field(description="Campaigns, oldest first, of one status or all.")
    async def campaigns(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        status: CampaignStatus | None = None,
    ) -> CampaignConnection:
        try:
            require(info, "campaigns")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.campaigns.page(first + 1, after_id, status)
        page, page_info = split_page(found, first, lambda c: c.id)
        nodes = [Campaign.from_domain(c) for c in page]
        return CampaignConnection(
            edges=edges(nodes, lambda c: c.pk), nodes=nodes, page_info=page_info
        )

    @strawberry.field(
        description="Customers an arm (and the control group alike) needs to show an absolute "
        "change of `minimumDetectableEffect` from `baselineRate` (two-sided test; statsmodels' "
        "power solver): plan arm sizes before a campaign, and do not read results before."
    )
    def campaign_sample_size(
        self,
        info: Info,
        baseline_rate: float,
        minimum_detectable_effect: float,
        power: float = 0.8,
        alpha: float = 0.05,
    ) -> int:
        # Imported here: statsmodels loads numpy, scipy and pandas, which the service's other
        # paths do not need at start-up.
        from domain.campaigns.statistics import sample_size

        try:
            require(info, "campaignSampleSize")
            return sample_size(baseline_rate, minimum_detectable_effect, power, alpha)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
