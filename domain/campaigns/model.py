"""A campaign: who it targets, what it offers on which channels, what it may cost, when it
runs, its arms and control group; its lifecycle draft → approved (maker–checker) → running →
completed or cancelled. Checked here before anything is written."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.relationships import MakerCheckerViolation

MAX_NAME = 200
MAX_OBJECTIVE = 2000
MAX_MESSAGE = 1000
MAX_ARMS = 10
MAX_SEGMENTS = 10
MAX_DURATION = timedelta(days=366)
STEP = Decimal("0.00001")  # shares are stored with 5 decimals
MAX_HOLDOUT = Decimal("0.5")  # more control than treatment proves little and costs reach


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CampaignKind(enum.StrEnum):
    OFFER = "offer"  # sell: an offer of products to a target
    PRODUCT_NOTICE = "product_notice"  # tell: a launch or a rate change, to holders or eligible


class ContactChannel(enum.StrEnum):
    RM_VISIT = "rm_visit"  # a task for the customer's RM
    CALL_CENTER = "call_center"  # a task on the outbound queue
    COUNTER = "counter"  # a task for the customer's next counter visit
    APP_PUSH = "app_push"  # digital: an outbound event (webhook campaign.contact)
    SMS = "sms"
    EMAIL = "email"


class CampaignOutcome(enum.StrEnum):
    """How a contact ended, as the RM, agent, teller or channel system reports it."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"


class ResponseKind(enum.StrEnum):
    """Why a member counts as responded (attribution)."""

    OPENED = "opened"  # opened an offered product within the campaign's window
    ACCEPTED = "accepted"  # said yes on the contact, whether or not a product followed yet


DIGITAL = frozenset({ContactChannel.APP_PUSH, ContactChannel.SMS, ContactChannel.EMAIL})
# The outbound event a digital contact is delivered by (webhooks to the channel systems).
CONTACT_EVENT = "campaign.contact"


class CampaignNotApproved(RuleViolation):
    code = "CAMPAIGN_NOT_APPROVED"


class BudgetTooLow(RuleViolation):
    code = "BUDGET_TOO_LOW"


class ProductRetired(RuleViolation):
    code = "PRODUCT_RETIRED"


class CampaignStateConflict(RuleViolation):
    code = "INVALID_CAMPAIGN_STATE"


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    share: Decimal  # of the treated customers; the arms' shares sum to 1
    channel: ContactChannel
    offer_product_ids: tuple[int, ...]
    message: str


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """What a maker submits."""

    name: str
    objective: str
    kind: CampaignKind
    segment_ids: tuple[int, ...]
    arms: tuple[Arm, ...]
    holdout_share: Decimal  # of everyone eligible, never contacted, counted the same way
    budget: Decimal  # CNY
    cost_per_contact: Mapping[ContactChannel, Decimal]  # CNY, by channel
    planned_contacts: int  # of the treated, for the budget check and the sample-size warning
    starts_at: datetime
    ends_at: datetime  # the attribution window closes here


def planned_cost(plan: CampaignPlan) -> Decimal:
    """The planned contacts' cost: each arm's share of them at its channel's cost."""
    return sum(
        (
            Decimal(plan.planned_contacts) * arm.share * plan.cost_per_contact[arm.channel]
            for arm in plan.arms
        ),
        Decimal("0"),
    )


def validate_plan(
    plan: CampaignPlan,
    now: datetime,
    segments_known: Sequence[int],
    products: Mapping[int, bool],  # product id → retired
) -> CampaignPlan:
    """The plan, or the first thing wrong with it, named by its input path."""
    name = " ".join(plan.name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput("name", f"a campaign name has 1 to {MAX_NAME} characters")
    if len(plan.objective) > MAX_OBJECTIVE:
        raise InvalidInput("objective", f"at most {MAX_OBJECTIVE} characters")
    if not plan.segment_ids or len(plan.segment_ids) > MAX_SEGMENTS:
        raise InvalidInput("segmentIds", f"target 1 to {MAX_SEGMENTS} segments")
    for segment in plan.segment_ids:
        if segment not in segments_known:
            raise NotFound("segment", str(segment))
    _check_arms(plan.arms)
    for i, arm in enumerate(plan.arms):
        for product in arm.offer_product_ids:
            if product not in products:
                raise NotFound("product", str(product))
            if products[product]:
                raise ProductRetired(f"arms[{i}] offers a retired product")
        if arm.channel not in plan.cost_per_contact:
            raise InvalidInput(f"arms[{i}].channel", "give the channel's cost per contact")
    share = plan.holdout_share
    if not share.is_finite() or not 0 <= share <= MAX_HOLDOUT or share != share.quantize(STEP):
        raise InvalidInput("holdoutShare", f"between 0 and {MAX_HOLDOUT}, at most 5 decimals")
    for channel, cost in plan.cost_per_contact.items():
        if not cost.is_finite() or cost < 0 or cost >= 10**9:
            raise InvalidInput(f"costPerContact.{channel.value}", "a cost from 0, in CNY")
    if not plan.budget.is_finite() or plan.budget < 0 or plan.budget >= 10**15:
        raise InvalidInput("budget", "a budget from 0, in CNY")
    if not 1 <= plan.planned_contacts <= 100_000_000:
        raise InvalidInput("plannedContacts", "between 1 and 100,000,000")
    for field, moment in (("startsAt", plan.starts_at), ("endsAt", plan.ends_at)):
        if moment.tzinfo is None:
            raise InvalidInput(field, "the time needs a time zone")
    if plan.starts_at < now:
        raise InvalidInput("startsAt", "the schedule starts in the past")
    if plan.ends_at <= plan.starts_at or plan.ends_at - plan.starts_at > MAX_DURATION:
        raise InvalidInput("endsAt", "after the start, and at most a year later")
    cost = planned_cost(plan)
    if plan.budget < cost:
        raise BudgetTooLow(f"the planned contacts cost {cost:.2f} CNY, above the budget")
    return plan


def _check_arms(arms: Sequence[Arm]) -> None:
    if not 1 <= len(arms) <= MAX_ARMS:
        raise InvalidInput("arms", f"1 to {MAX_ARMS} arms")
    names = [a.name.strip() for a in arms]
    if any(not n or len(n) > 40 for n in names) or len(set(names)) != len(names):
        raise InvalidInput("arms", "each arm has its own name of 1 to 40 characters")
    for i, arm in enumerate(arms):
        if not arm.share.is_finite() or arm.share <= 0 or arm.share != arm.share.quantize(STEP):
            raise InvalidInput(f"arms[{i}].share", "a share above 0, at most 5 decimals")
        if len(arm.message) > MAX_MESSAGE:
            raise InvalidInput(f"arms[{i}].message", f"at most {MAX_MESSAGE} characters")
    if sum((a.share for a in arms), Decimal("0")) != 1:
        raise InvalidInput("arms", "the arms' shares must sum to 1")


def check_approval(status: CampaignStatus, maker: str, checker: str) -> None:
    """Maker–checker, as for relationship state changes."""
    if status is not CampaignStatus.DRAFT:
        raise CampaignStateConflict(f"only a draft is approved; this one is {status.value}")
    if maker == checker:
        raise MakerCheckerViolation("the maker of a campaign cannot also approve it")


def check_launch(status: CampaignStatus) -> None:
    if status is CampaignStatus.DRAFT:
        raise CampaignNotApproved("a campaign is launched only once approved")
    if status is not CampaignStatus.APPROVED:
        raise CampaignStateConflict(
            f"only an approved campaign is launched; this one is {status.value}"
        )


def check_end(status: CampaignStatus, to: CampaignStatus) -> None:
    """Complete a running campaign, or cancel one that has not completed."""
    allowed = {
        CampaignStatus.COMPLETED: {CampaignStatus.RUNNING},
        CampaignStatus.CANCELLED: {
            CampaignStatus.DRAFT,
            CampaignStatus.APPROVED,
            CampaignStatus.RUNNING,
        },
    }
    if status not in allowed.get(to, set()):
        raise CampaignStateConflict(f"a {status.value} campaign cannot become {to.value}")
