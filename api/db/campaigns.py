"""SqlCampaigns: campaign plans and their lifecycle (domain/campaigns/lifecycle.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.tables import (
    CampaignArmRow,
    CampaignRow,
    ContactSuppressionRow,
    InteractionRow,
    ProductRow,
    SegmentRow,
)
from domain.campaigns.lifecycle import Campaign, DoNotContact, InteractionOffers
from domain.campaigns.model import (
    Arm,
    CampaignKind,
    CampaignPlan,
    CampaignStatus,
    ContactChannel,
)

campaigns = CampaignRow.__table__
arms = CampaignArmRow.__table__


async def move_status(
    conn: AsyncConnection, campaign_id: int, expected: CampaignStatus, **changes: Any
) -> bool:
    """Apply `changes` (the new status among them) only while the campaign is in `expected`:
    whether it was, so that two concurrent moves cannot both happen."""
    moved = await conn.scalar(
        update(CampaignRow)
        .where(CampaignRow.id == campaign_id, CampaignRow.status == expected.value)
        .values(**changes)
        .returning(CampaignRow.id)
    )
    return moved is not None


class SqlCampaigns:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def segments_known(self, ids: Sequence[int]) -> list[int]:
        async with self._engine.connect() as conn:
            found = await conn.scalars(select(SegmentRow.id).where(SegmentRow.id.in_(list(ids))))
            return list(found)

    async def products_retired(self, ids: Sequence[int]) -> dict[int, bool]:
        if not ids:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(ProductRow.id, ProductRow.retired_at).where(ProductRow.id.in_(list(ids)))
            )
            return {r.id: r.retired_at is not None for r in rows}

    async def create(self, plan: CampaignPlan, actor: str) -> Campaign:
        async with self._engine.begin() as conn:
            campaign_id = await conn.scalar(
                insert(CampaignRow)
                .values(
                    name=" ".join(plan.name.split()),
                    objective=plan.objective,
                    kind=plan.kind.value,
                    status=CampaignStatus.DRAFT.value,
                    segment_ids=list(plan.segment_ids),
                    holdout_share=plan.holdout_share,
                    budget=plan.budget,
                    cost_per_contact={c.value: str(v) for c, v in plan.cost_per_contact.items()},
                    planned_contacts=plan.planned_contacts,
                    starts_at=plan.starts_at,
                    ends_at=plan.ends_at,
                    created_by=actor,
                )
                .returning(CampaignRow.id)
            )
            assert campaign_id is not None
            await conn.execute(
                insert(CampaignArmRow),
                [
                    {
                        "campaign_id": campaign_id,
                        "position": n,
                        "name": arm.name.strip(),
                        "share": arm.share,
                        "channel": arm.channel.value,
                        "offer_product_ids": list(arm.offer_product_ids),
                        "message": arm.message,
                    }
                    for n, arm in enumerate(plan.arms)
                ],
            )
            (found,) = await self.read(conn, [campaign_id])
            return found

    async def do_not_contact(self, customer_ids: Sequence[int]) -> dict[int, DoNotContact]:
        d = ContactSuppressionRow.__table__.c
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(d.customer_id, d.reason, d.placed_at).where(
                    d.customer_id.in_(list(customer_ids))
                )
            )
            return {r.customer_id: DoNotContact(r.customer_id, r.reason, r.placed_at) for r in rows}

    async def offers_by_interaction(
        self, interaction_ids: Sequence[int]
    ) -> dict[int, InteractionOffers]:
        i = InteractionRow.__table__.c
        query = (
            select(i.id, i.offers, i.campaign_id, campaigns.c.name, arms.c.name.label("arm"))
            .select_from(
                InteractionRow.__table__.outerjoin(
                    campaigns, campaigns.c.id == i.campaign_id
                ).outerjoin(
                    arms,
                    (arms.c.campaign_id == i.campaign_id) & (arms.c.position == i.campaign_arm),
                )
            )
            .where(i.id.in_(list(interaction_ids)))
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {
                r.id: InteractionOffers(tuple(r.offers), r.campaign_id, r.name, r.arm) for r in rows
            }

    async def get(self, campaign_id: int) -> Campaign | None:
        async with self._engine.connect() as conn:
            found = await self.read(conn, [campaign_id])
        return found[0] if found else None

    async def move(
        self,
        campaign_id: int,
        expected: CampaignStatus,
        to: CampaignStatus,
        actor: str,
        at: datetime,
    ) -> Campaign | None:
        changes: dict[str, Any] = {"status": to.value}
        if to is CampaignStatus.APPROVED:
            changes |= {"approved_by": actor, "approved_at": at}
        if to in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            changes["ended_at"] = at
        async with self._engine.begin() as conn:
            if not await move_status(conn, campaign_id, expected, **changes):
                return None
            (found,) = await self.read(conn, [campaign_id])
            return found

    async def page(
        self, first: int, after: int | None, status: CampaignStatus | None
    ) -> list[Campaign]:
        stmt = select(CampaignRow.id).where(CampaignRow.id > (after or 0))
        if status is not None:
            stmt = stmt.where(CampaignRow.status == status.value)
        async with self._engine.connect() as conn:
            ids = list(await conn.scalars(stmt.order_by(CampaignRow.id).limit(first)))
            return await self.read(conn, ids)

    @staticmethod
    async def read(conn: AsyncConnection, ids: Sequence[int]) -> list[Campaign]:
        if not ids:
            return []
        rows = (await conn.execute(select(campaigns).where(campaigns.c.id.in_(list(ids))))).all()
        arm_rows = (
            await conn.execute(
                select(arms)
                .where(arms.c.campaign_id.in_(list(ids)))
                .order_by(arms.c.campaign_id, arms.c.position)
            )
        ).all()
        by_campaign: dict[int, list[Arm]] = {}
        for a in arm_rows:
            by_campaign.setdefault(a.campaign_id, []).append(
                Arm(
                    name=a.name,
                    share=a.share,
                    channel=ContactChannel(a.channel),
                    offer_product_ids=tuple(a.offer_product_ids),
                    message=a.message,
                )
            )
        return [
            Campaign(
                id=r.id,
                plan=CampaignPlan(
                    name=r.name,
                    objective=r.objective,
                    kind=CampaignKind(r.kind),
                    segment_ids=tuple(r.segment_ids),
                    arms=tuple(by_campaign.get(r.id, ())),
                    holdout_share=r.holdout_share,
                    budget=r.budget,
                    cost_per_contact={
                        ContactChannel(c): Decimal(v) for c, v in r.cost_per_contact.items()
                    },
                    planned_contacts=r.planned_contacts,
                    starts_at=r.starts_at,
                    ends_at=r.ends_at,
                ),
                status=CampaignStatus(r.status),
                created_by=r.created_by,
                created_at=r.created_at,
                approved_by=r.approved_by,
                approved_at=r.approved_at,
                ended_at=r.ended_at,
                launched_at=r.launched_at,
                attributed_at=r.attributed_at,
            )
            for r in sorted(rows, key=lambda r: r.id)
        ]
