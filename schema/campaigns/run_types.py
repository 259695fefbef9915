"""A running campaign in GraphQL: its launch, members, report, contact policy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.campaigns.eligibility import ContactPolicy as ContactPolicyModel
from domain.campaigns.eligibility import Reason
from domain.campaigns.model import CampaignOutcome, ResponseKind
from domain.campaigns.report import ArmReport, BreakdownFigures
from domain.campaigns.report import CampaignReport as CampaignReportModel
from domain.campaigns.response_score import ScoreInputs, score
from domain.campaigns.runs import Launch
from domain.ids import encode_id
from schema.campaigns.types import Campaign
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError, RuleViolationError
from schema.core.pagination import Edge, PageInfo

if TYPE_CHECKING:
    from domain.campaigns.statistics import Rate, Uplift
    from schema.customers.types import Customer

strawberry.enum(Reason, name="CampaignMemberReason", description="Why a customer is in or out.")
strawberry.enum(CampaignOutcome, description="How a campaign contact ended.")
strawberry.enum(ResponseKind, name="CampaignResponse", description="Why a member responded.")

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="Targeted customers left out for one reason (or eligible).")
class ReasonCount:
    reason: Reason = strawberry.field(description="The reason.")
    customers: int = strawberry.field(description="How many targeted customers.")


@strawberry.type(description="What a launch froze and the contacts it made.")
class CampaignLaunch:
    campaign: Campaign = strawberry.field(description="The campaign, now running.")
    reasons: list[ReasonCount] = strawberry.field(
        description="Every targeted customer, counted by their reason (in the checks' order)."
    )
    treated: int = strawberry.field(description="Eligible customers in an arm: contacted.")
    control: int = strawberry.field(description="Eligible customers held out: never contacted.")
    tasks_opened: int = strawberry.field(
        description="Contact tasks: RM visits, outbound calls, counter offers."
    )
    digital_sent: int = strawberry.field(
        description="App pushes, SMS and e-mails: on the timeline, sent as campaign.contact."
    )

    @classmethod
    def of(cls, campaign: Campaign, launch: Launch) -> CampaignLaunch:
        return cls(
            campaign=campaign,
            reasons=[
                ReasonCount(reason=r, customers=launch.by_reason[r])
                for r in Reason
                if r in launch.by_reason
            ],
            treated=launch.treated,
            control=launch.control,
            tasks_opened=launch.tasks_opened,
            digital_sent=launch.digital_sent,
        )


@strawberry.type(description="Responses counted for a campaign.")
class CampaignAttribution:
    campaign: Campaign = strawberry.field(description="The campaign.")
    responded: int = strawberry.field(description="Members (treated and control) responded.")


@strawberry.type(description="A contact's outcome, recorded.")
class CampaignContactRecorded:
    interaction_id: strawberry.ID = strawberry.field(
        description="The contact on the customer's timeline (carries the campaign and arm)."
    )


@strawberry.type(description="The response score's points, each from one input.")
class ResponseScorePoints:
    recency: int = strawberry.field(description="From days since the last interaction (0-30).")
    frequency: int = strawberry.field(description="From interactions in 90 days (0-20).")
    monetary: int = strawberry.field(description="From the monthly contribution (0-20).")
    past: int = strawberry.field(description="From past campaign responses (0-30).")
    total: int = strawberry.field(description="The score, 0-100.")


@strawberry.type(description="The transparent response score and what it was computed from.")
class ResponseScore:
    recency_days: int | None = strawberry.field(
        description="Days since the last interaction at launch; null: none."
    )
    frequency: int = strawberry.field(description="Interactions in the 90 days before launch.")
    monetary: Decimal | None = strawberry.field(
        description="Latest scored monthly contribution at launch, CNY; null: never scored."
    )
    past_contacts: int = strawberry.field(description="Times treated in earlier campaigns.")
    past_responses: int = strawberry.field(description="Of which responded.")
    points: ResponseScorePoints = strawberry.field(description="The points, and their total.")


@strawberry.type(description="A targeted customer of a launched campaign, frozen at launch.")
class CampaignMember:
    customer: CustomerRef | None = strawberry.field(
        description="The customer as the caller may see them (null where the row rule denies)."
    )
    reason: Reason = strawberry.field(description="ELIGIBLE, or why they are out.")
    arm: str = strawberry.field(
        description="The arm; for a control customer the arm they would have been in."
    )
    control: bool = strawberry.field(description="Held out: never contacted.")
    tier: str | None = strawberry.field(
        description="Value tier at launch; null when the caller may not see customer value."
    )
    response_score: ResponseScore | None = strawberry.field(
        description="Eligible members only; null when the caller may not see customer value."
    )
    task_id: strawberry.ID | None = strawberry.field(description="The contact task, if any.")
    contacted_at: datetime | None = strawberry.field(description="When contacted, if yet.")
    outcome: CampaignOutcome | None = strawberry.field(description="The contact's outcome.")
    response: ResponseKind | None = strawberry.field(description="Why counted as responded.")
    responded_at: datetime | None = strawberry.field(description="When, by attribution.")


@strawberry.type(description="A page of campaign members.")
class CampaignMemberConnection:
    edges: list[Edge[CampaignMember]] = strawberry.field(description="This page, with cursors.")
    nodes: list[CampaignMember] = strawberry.field(description="Members on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type(description="A response rate with its 95% Wilson interval.")
class ResponseRate:
    members: int = strawberry.field(description="Customers in the group.")
    responded: int = strawberry.field(description="Of whom responded.")
    rate: float | None = strawberry.field(description="responded ÷ members; null: none.")
    low: float | None = strawberry.field(description="Wilson 95% interval, lower bound.")
    high: float | None = strawberry.field(description="Wilson 95% interval, upper bound.")

    @classmethod
    def of(cls, rate: Rate) -> ResponseRate:
        return cls(
            members=rate.contacted,
            responded=rate.responded,
            rate=rate.rate,
            low=rate.low,
            high=rate.high,
        )


@strawberry.type(description="An arm's uplift over its control slice.")
class CampaignUplift:
    difference: float = strawberry.field(description="Arm rate − control rate.")
    low: float = strawberry.field(description="Newcombe 95% interval, lower bound.")
    high: float = strawberry.field(description="Newcombe 95% interval, upper bound.")
    z: float = strawberry.field(description="Pooled two-proportion z statistic.")
    p_value: float = strawberry.field(description="Two-sided p-value.")

    @classmethod
    def of(cls, u: Uplift) -> CampaignUplift:
        return cls(difference=u.difference, low=u.low, high=u.high, z=u.z, p_value=u.p_value)


@strawberry.type(description="One arm against its own control slice.")
class CampaignArmReport:
    name: str = strawberry.field(description="The arm.")
    channel: str = strawberry.field(description="Its channel.")
    planned: int = strawberry.field(description="Members planned: contacts × the arm's share.")
    planned_control: int = strawberry.field(description="Control members planned.")
    treated: ResponseRate = strawberry.field(description="The arm's members (intention to treat).")
    contacted: int = strawberry.field(description="Of the arm's members, contacted.")
    control: ResponseRate = strawberry.field(description="Its control slice.")
    uplift: CampaignUplift | None = strawberry.field(description="Null: a group is empty.")
    cost: Decimal = strawberry.field(description="Contacts × the channel's cost, CNY.")
    incremental_contribution: Decimal | None = strawberry.field(
        description="(Mean contribution change of the arm − of its control) × members, CNY."
    )
    responders_mean_change: Decimal | None = strawberry.field(
        description="The responders' mean monthly contribution change, CNY."
    )
    roi: float | None = strawberry.field(description="(Incremental − cost) ÷ cost.")
    warnings: list[str] = strawberry.field(description="Below planned size, window open...")

    @classmethod
    def of(cls, a: ArmReport) -> CampaignArmReport:
        return cls(
            name=a.name,
            channel=a.channel,
            planned=a.planned,
            planned_control=a.planned_control,
            treated=ResponseRate.of(a.treated),
            contacted=a.contacted,
            control=ResponseRate.of(a.control),
            uplift=None if a.uplift is None else CampaignUplift.of(a.uplift),
            cost=a.cost,
            incremental_contribution=a.incremental_contribution,
            responders_mean_change=a.responders_mean_change,
            roi=a.roi,
            warnings=list(a.warnings),
        )


@strawberry.type(description="Treated members of one channel, branch or RM, and their control.")
class CampaignBreakdown:
    key: str | None = strawberry.field(
        description="The channel, or the branch's or RM's global id; null: none."
    )
    members: int = strawberry.field(description="Treated members.")
    contacted: int = strawberry.field(description="Of whom contacted.")
    responded: int = strawberry.field(description="Of whom responded.")
    control_members: int = strawberry.field(description="Control members.")
    control_responded: int = strawberry.field(description="Of whom responded.")
    cost: Decimal = strawberry.field(description="Contacts' cost, CNY.")

    @classmethod
    def of(cls, b: BreakdownFigures, type_name: str | None) -> CampaignBreakdown:
        key = b.key
        if key is not None and type_name is not None:
            key = encode_id(type_name, int(key))
        return cls(
            key=key,
            members=b.members,
            contacted=b.contacted,
            responded=b.responded,
            control_members=b.control_members,
            control_responded=b.control_responded,
            cost=b.cost,
        )


@strawberry.type(description="The campaign report: each arm against its control slice.")
class CampaignReport:
    arms: list[CampaignArmReport] = strawberry.field(description="Per arm.")
    cost: Decimal = strawberry.field(description="All contacts' cost, CNY.")
    incremental_contribution: Decimal | None = strawberry.field(description="All arms, CNY.")
    roi: float | None = strawberry.field(description="(Incremental − cost) ÷ cost.")
    by_channel: list[CampaignBreakdown] = strawberry.field(description="Per channel.")
    by_branch: list[CampaignBreakdown] = strawberry.field(description="Per home branch.")
    by_relationship_manager: list[CampaignBreakdown] = strawberry.field(description="Per RM.")
    warnings: list[str] = strawberry.field(description="Read these before the figures.")
    attributed_at: datetime | None = strawberry.field(description="Responses last counted.")

    @classmethod
    def of(cls, r: CampaignReportModel, attributed_at: datetime | None) -> CampaignReport:
        return cls(
            arms=[CampaignArmReport.of(a) for a in r.arms],
            cost=r.cost,
            incremental_contribution=r.incremental_contribution,
            roi=r.roi,
            by_channel=[CampaignBreakdown.of(b, None) for b in r.by_channel],
            by_branch=[CampaignBreakdown.of(b, "Branch") for b in r.by_branch],
            by_relationship_manager=[
                CampaignBreakdown.of(b, "RelationshipManager") for b in r.by_rm
            ],
            warnings=list(r.warnings),
            attributed_at=attributed_at,
        )


@strawberry.type(description="The contact-frequency cap across all campaigns.")
class ContactPolicy:
    max_contacts: int = strawberry.field(description="At most this many contacts...")
    window_days: int = strawberry.field(description="...in any window of this many days.")

    @classmethod
    def of(cls, p: ContactPolicyModel) -> ContactPolicy:
        return cls(max_contacts=p.max_contacts, window_days=p.window_days)


@strawberry.type(description="A customer put on, or taken off, the do-not-contact list.")
class DoNotContactChanged:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    on_list: bool = strawberry.field(description="Whether they are on the list now.")


def response_score(inputs: ScoreInputs) -> ResponseScore:
    points = score(inputs)
    return ResponseScore(
        recency_days=inputs.recency_days,
        frequency=inputs.frequency,
        monetary=inputs.monetary,
        past_contacts=inputs.past_contacts,
        past_responses=inputs.past_responses,
        points=ResponseScorePoints(
            recency=points.recency,
            frequency=points.frequency,
            monetary=points.monetary,
            past=points.past,
            total=points.total,
        ),
    )


_ERRORS = InvalidInputError | NotFoundError | RuleViolationError | ForbiddenError
LaunchResult = Annotated[
    CampaignLaunch | _ERRORS, strawberry.union("LaunchCampaignResult", description="Or why not.")
]
AttributionResult = Annotated[
    CampaignAttribution | _ERRORS,
    strawberry.union("AttributeCampaignResult", description="Or why not."),
]
OutcomeResult = Annotated[
    CampaignContactRecorded | _ERRORS,
    strawberry.union("RecordCampaignOutcomeResult", description="Or why not."),
]
PolicyResult = Annotated[
    ContactPolicy | _ERRORS,
    strawberry.union("UpdateContactPolicyResult", description="Or why not."),
]
DoNotContactResult = Annotated[
    DoNotContactChanged | _ERRORS,
    strawberry.union("DoNotContactResult", description="Or why not."),
]
