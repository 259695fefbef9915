"""Campaigns in GraphQL: the plan, its arms, and where it stands."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from domain.campaigns.lifecycle import Campaign as CampaignModel
from domain.campaigns.model import Arm, CampaignKind, CampaignPlan, CampaignStatus, ContactChannel
from domain.ids import decode_typed_id, encode_id
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError, RuleViolationError
from schema.core.pagination import Edge, PageInfo

strawberry.enum(CampaignStatus, description="Where a campaign stands.")
strawberry.enum(CampaignKind, description="An offer to sell, or a notice of a launch or rate.")
strawberry.enum(ContactChannel, description="How a campaign reaches a customer.")


@strawberry.type(description="What one contact channel costs, CNY.")
class CampaignChannelCost:
    channel: ContactChannel = strawberry.field(description="The channel.")
    cost: Decimal = strawberry.field(description="CNY per contact.")


@strawberry.type(description="One arm of a campaign: its share of the treated customers.")
class CampaignArm:
    name: str = strawberry.field(description="The arm's name, unique in its campaign.")
    share: Decimal = strawberry.field(description="Its share of the treated customers.")
    channel: ContactChannel = strawberry.field(description="How its customers are reached.")
    offer_product_ids: list[strawberry.ID] = strawberry.field(description="Products offered.")
    message: str = strawberry.field(description="What the contact says.")


@strawberry.type(description="A campaign: target, offers, channels, budget, schedule and arms.")
class Campaign:
    id: strawberry.ID = strawberry.field(description="Opaque global id of the campaign.")
    name: str = strawberry.field(description="Its name.")
    objective: str = strawberry.field(description="What it is for.")
    kind: CampaignKind = strawberry.field(description="An offer or a product notice.")
    status: CampaignStatus = strawberry.field(description="Where it stands.")
    segment_ids: list[strawberry.ID] = strawberry.field(description="The target segments.")
    arms: list[CampaignArm] = strawberry.field(description="Its arms (A/B/n).")
    holdout_share: Decimal = strawberry.field(
        description="The share of the eligible held out as control: never contacted, counted "
        "the same way."
    )
    budget: Decimal = strawberry.field(description="CNY.")
    cost_per_contact: list[CampaignChannelCost] = strawberry.field(description="By channel.")
    planned_contacts: int = strawberry.field(description="Contacts planned, of the treated.")
    starts_at: datetime = strawberry.field(description="When it starts.")
    ends_at: datetime = strawberry.field(description="When it ends; attribution closes then.")
    created_by: str = strawberry.field(description="The maker.")
    created_at: datetime = strawberry.field(description="When it was created.")
    approved_by: str | None = strawberry.field(description="The checker, once approved.")
    approved_at: datetime | None = strawberry.field(description="When it was approved.")
    ended_at: datetime | None = strawberry.field(description="When it completed or was cancelled.")
    launched_at: datetime | None = strawberry.field(
        description="When it was launched: membership frozen, contacts made."
    )
    attributed_at: datetime | None = strawberry.field(
        description="When responses were last counted."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_domain(cls, c: CampaignModel) -> Campaign:
        plan = c.plan
        return cls(
            id=strawberry.ID(encode_id("Campaign", c.id)),
            name=plan.name,
            objective=plan.objective,
            kind=plan.kind,
            status=c.status,
            segment_ids=[strawberry.ID(encode_id("Segment", s)) for s in plan.segment_ids],
            arms=[
                CampaignArm(
                    name=a.name,
                    share=a.share,
                    channel=a.channel,
                    offer_product_ids=[
                        strawberry.ID(encode_id("Product", p)) for p in a.offer_product_ids
                    ],
                    message=a.message,
                )
                for a in plan.arms
            ],
            holdout_share=plan.holdout_share,
            budget=plan.budget,
            cost_per_contact=[
                CampaignChannelCost(channel=ch, cost=v)
                for ch, v in sorted(plan.cost_per_contact.items())
            ],
            planned_contacts=plan.planned_contacts,
            starts_at=plan.starts_at,
            ends_at=plan.ends_at,
            created_by=c.created_by,
            created_at=c.created_at,
            approved_by=c.approved_by,
            approved_at=c.approved_at,
            ended_at=c.ended_at,
            launched_at=c.launched_at,
            attributed_at=c.attributed_at,
            pk=c.id,
        )


@strawberry.type(description="A page of campaigns, oldest first.")
class CampaignConnection:
    edges: list[Edge[Campaign]] = strawberry.field(description="This page, with cursors.")
    nodes: list[Campaign] = strawberry.field(description="Campaigns on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.input(description="One arm of a new campaign.")
class CampaignArmInput:
    name: str = strawberry.field(description="Unique in the campaign, 1 to 40 characters.")
    share: Decimal = strawberry.field(
        description="Its share of the treated; the arms' shares sum to 1 (5 decimals at most)."
    )
    channel: ContactChannel = strawberry.field(description="How its customers are reached.")
    offer_product_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Products offered (none for a pure notice)."
    )
    message: str = strawberry.field(default="", description="What the contact says.")


@strawberry.input(description="A channel's cost per contact, CNY.")
class CampaignChannelCostInput:
    channel: ContactChannel = strawberry.field(description="The channel.")
    cost: Decimal = strawberry.field(description="CNY per contact.")


@strawberry.input(description="A new campaign (a draft until a different person approves it).")
class CreateCampaignInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    objective: str = strawberry.field(default="", description="What it is for.")
    kind: CampaignKind = strawberry.field(
        default=CampaignKind.OFFER, description="An offer, or a product notice."
    )
    segment_ids: list[strawberry.ID] = strawberry.field(description="1 to 10 saved segments.")
    arms: list[CampaignArmInput] = strawberry.field(description="1 to 10 arms.")
    holdout_share: Decimal = strawberry.field(
        default=Decimal("0.1"), description="Control group share of the eligible, 0 to 0.5."
    )
    budget: Decimal = strawberry.field(description="CNY; at least the planned contacts' cost.")
    cost_per_contact: list[CampaignChannelCostInput] = strawberry.field(
        description="The cost of each arm's channel."
    )
    planned_contacts: int = strawberry.field(description="Contacts planned, of the treated.")
    starts_at: datetime = strawberry.field(description="Not in the past.")
    ends_at: datetime = strawberry.field(description="After the start, at most a year later.")

    def to_plan(self) -> CampaignPlan:
        return CampaignPlan(
            name=self.name,
            objective=self.objective,
            kind=self.kind,
            segment_ids=tuple(
                decode_typed_id(s, "Segment", field=f"segmentIds[{i}]")
                for i, s in enumerate(self.segment_ids)
            ),
            arms=tuple(
                Arm(
                    name=a.name,
                    share=a.share,
                    channel=a.channel,
                    offer_product_ids=tuple(
                        decode_typed_id(p, "Product", field=f"arms[{i}].offerProductIds[{j}]")
                        for j, p in enumerate(a.offer_product_ids)
                    ),
                    message=a.message,
                )
                for i, a in enumerate(self.arms)
            ),
            holdout_share=self.holdout_share,
            budget=self.budget,
            cost_per_contact={c.channel: c.cost for c in self.cost_per_contact},
            planned_contacts=self.planned_contacts,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


CampaignResult = Annotated[
    Campaign | InvalidInputError | NotFoundError | RuleViolationError | ForbiddenError,
    strawberry.union("CampaignResult", description="The campaign, or why not."),
]
