"""Running campaigns: launchCampaign, recordCampaignOutcome, attributeCampaign,
completeCampaign, campaignMembers, campaignReport; the contact policy and the do-not-contact
list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import strawberry

from domain.access.principal import Role
from domain.campaigns.eligibility import (
    ContactPolicy as ContactPolicyModel,
)
from domain.campaigns.eligibility import (
    Reason,
    validate_policy,
    validate_suppression_reason,
)
from domain.campaigns.lifecycle import found_campaign
from domain.campaigns.model import CampaignOutcome
from domain.campaigns.runs import (
    LAST,
    Member,
    MemberFilter,
    attribute_campaign,
    complete_campaign,
    launch_campaign,
    record_campaign_outcome,
)
from domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from domain.ids import decode_typed_id, encode_id
from domain.value.segments import member_scope
from schema.campaigns.run_types import (
    AttributionResult,
    CampaignAttribution,
    CampaignContactRecorded,
    CampaignLaunch,
    CampaignMember,
    CampaignMemberConnection,
    CampaignReport,
    ContactPolicy,
    DoNotContactChanged,
    DoNotContactResult,
    LaunchResult,
    OutcomeResult,
    PolicyResult,
    response_score,
)
from schema.campaigns.types import Campaign, CampaignResult
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError, rule_error_type
from schema.core.pagination import Edge, PageInfo, check_first, decode_cursor, encode_cursor
from schema.privacy.mutations import consent_subject


def _now() -> datetime:
    return datetime.now(UTC)


@strawberry.input(description="Which members to list.")
class CampaignMemberFilter:
    reason: Reason | None = strawberry.field(default=None, description="Only this reason.")
    control: bool | None = strawberry.field(
        default=None, description="True: the control group; false: the treated."
    )
    arm: str | None = strawberry.field(default=None, description="Only this arm (by name).")


@strawberry.input(description="A contact's outcome.")
class RecordCampaignOutcomeInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign.")
    customer_id: strawberry.ID = strawberry.field(description="The customer contacted.")
    outcome: CampaignOutcome = strawberry.field(
        description="ACCEPTED and DECLINED are final (the task is done); NO_ANSWER may be "
        "followed by another attempt."
    )
    note: str | None = strawberry.field(default=None, description="What was said, if anything.")


def _cursor(member: Member) -> str:
    return encode_cursor(
        f"{member.priority if member.priority is not None else LAST}:{member.customer_id}"
    )


def _after(after: str | None) -> tuple[int, int] | None:
    if after is None:
        return None
    raw = decode_cursor(after)
    try:
        rank, customer = (int(part) for part in raw.split(":"))
    except ValueError as exc:
        raise InvalidInput("after", "not a cursor of this list") from exc
    if not (0 <= rank <= LAST and 0 <= customer < 2**63):
        raise InvalidInput("after", "not a cursor of this list")
    return rank, customer


async def _member_node(info: Info, member: Member, arm_names: list[str]) -> CampaignMember:
    from schema.customers.types import load_customer

    customer = await load_customer(info, member.customer_id)
    # Tier and score come from the customer's value: shown to whoever may see it.
    valued = customer is not None and customer.view.shows("Customer", "value")
    return CampaignMember(
        customer=customer,
        reason=member.reason,
        arm=arm_names[member.arm],
        control=member.control,
        tier=member.tier if valued else None,
        response_score=None
        if member.score_inputs is None or not valued
        else response_score(member.score_inputs),
        task_id=None
        if member.task_id is None
        else strawberry.ID(encode_id("Task", member.task_id)),
        contacted_at=member.contacted_at,
        outcome=member.outcome,
        response=member.response,
        responded_at=member.responded_at,
    )


@strawberry.type
class CampaignRunQueries:
    @strawberry.field(
        description="A launched campaign's members, best first: eligible members by priority "
        "(value tier, then the response score), then those out, each with their reason."
    )
    async def campaign_members(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        first: int,
        after: str | None = None,
        filter: CampaignMemberFilter | None = None,
    ) -> CampaignMemberConnection:
        try:
            require(info, "campaignMembers")
            check_first(first)
            pk = decode_typed_id(campaign_id, "Campaign", field="campaignId")
            position = _after(after)
            campaign = await found_campaign(info.context.campaigns, pk)
            # Membership tells what the target rules read: listed only to those who may
            # see it of every customer, as a segment's members (analysts: counts only).
            for segment_id in campaign.plan.segment_ids:
                segment = await info.context.segments.get(segment_id)
                if segment is not None and member_scope(info.context.principal, segment.rule):
                    raise Forbidden("the target rules read a field you see of some customers only")
            names = [a.name for a in campaign.plan.arms]
            given = filter or CampaignMemberFilter()
            if given.arm is not None and given.arm not in names:
                raise InvalidInput("filter.arm", f"the arms are {', '.join(names)}")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.campaign_runs.members_page(
            pk,
            first + 1,
            position,
            MemberFilter(
                reason=given.reason,
                control=given.control,
                arm=None if given.arm is None else names.index(given.arm),
            ),
        )
        page = found[:first]
        nodes = await asyncio.gather(*(_member_node(info, m, names) for m in page))
        edges = [Edge(cursor=_cursor(m), node=n) for m, n in zip(page, nodes, strict=True)]
        return CampaignMemberConnection(
            edges=edges,
            nodes=list(nodes),
            page_info=PageInfo(
                has_next_page=len(found) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="Each arm against its control slice: response rates with Wilson "
        "intervals, uplift with its interval and test, cost, incremental contribution, ROI, "
        "and breakdowns by channel, branch and RM. Read the warnings first."
    )
    async def campaign_report(self, info: Info, id: strawberry.ID) -> CampaignReport | None:
        from domain.campaigns.report import campaign_report

        try:
            require(info, "campaignReport")
            pk = decode_typed_id(id, "Campaign")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        campaign = await info.context.campaigns.get(pk)
        if campaign is None or campaign.launched_at is None:
            return None
        figures = await info.context.campaign_runs.figures(campaign)
        report = campaign_report(
            campaign,
            figures.groups,
            figures.by_channel,
            figures.by_branch,
            figures.by_rm,
            _now(),
        )
        return CampaignReport.of(report, campaign.attributed_at)

    @strawberry.field(description="The contact-frequency cap across all campaigns.")
    async def contact_policy(self, info: Info) -> ContactPolicy:
        try:
            require(info, "contactPolicy")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return ContactPolicy.of(await info.context.campaign_runs.policy())


@strawberry.type
class CampaignRunMutations:
    @strawberry.mutation(
        description="Launch an approved campaign: eligibility checked for every targeted "
        "customer at once, membership frozen with each reason, arms and control drawn, "
        "tasks opened and digital contacts sent, all or nothing."
    )
    async def launch_campaign(self, info: Info, id: strawberry.ID) -> LaunchResult:
        try:
            require(info, "launchCampaign")
            campaign, launch = await launch_campaign(
                info.context.campaigns,
                info.context.campaign_runs,
                decode_typed_id(id, "Campaign"),
                info.context.principal.subject,
                _now(),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return CampaignLaunch.of(Campaign.from_domain(campaign), launch)

    @strawberry.mutation(
        description="Record a contact's outcome: on the timeline (carrying the campaign and "
        "arm), on the task, and on the member."
    )
    async def record_campaign_outcome(
        self, info: Info, input: RecordCampaignOutcomeInput
    ) -> OutcomeResult:
        principal = info.context.principal
        try:
            require(info, "recordCampaignOutcome")
            customer_pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            if principal.role is Role.RELATIONSHIP_MANAGER:
                customer = await info.context.loaders.customer_by_id.load(customer_pk)
                if customer is None or customer.relationship_manager_id != principal.rm_id:
                    raise Forbidden("an RM records outcomes for their own portfolio")
            interaction_id = await record_campaign_outcome(
                info.context.campaigns,
                info.context.campaign_runs,
                decode_typed_id(input.campaign_id, "Campaign", field="campaignId"),
                customer_pk,
                input.outcome,
                input.note,
                info.context.principal.subject,
                _now(),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return CampaignContactRecorded(
            interaction_id=strawberry.ID(encode_id("Interaction", interaction_id))
        )

    @strawberry.mutation(
        description="Count responses now (an offered product opened in the window, or an "
        "accepted outcome), for the treated and the control group alike. Repeatable."
    )
    async def attribute_campaign(self, info: Info, id: strawberry.ID) -> AttributionResult:
        try:
            require(info, "attributeCampaign")
            campaign, responded = await attribute_campaign(
                info.context.campaigns,
                info.context.campaign_runs,
                decode_typed_id(id, "Campaign"),
                _now(),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return CampaignAttribution(campaign=Campaign.from_domain(campaign), responded=responded)

    @strawberry.mutation(description="Complete a running campaign, with a last attribution.")
    async def complete_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        try:
            require(info, "completeCampaign")
            done = await complete_campaign(
                info.context.campaigns,
                info.context.campaign_runs,
                decode_typed_id(id, "Campaign"),
                info.context.principal.subject,
                _now(),
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return Campaign.from_domain(done)

    @strawberry.mutation(description="Change the contact-frequency cap (admins).")
    async def update_contact_policy(
        self, info: Info, max_contacts: int, window_days: int
    ) -> PolicyResult:
        try:
            require(info, "updateContactPolicy")
            policy = validate_policy(ContactPolicyModel(max_contacts, window_days))
        except DomainError as exc:
            return rule_error_type(exc)
        saved = await info.context.campaign_runs.save_policy(policy, info.context.principal.subject)
        return ContactPolicy.of(saved)

    @strawberry.mutation(
        description="Put a customer on the do-not-contact list: no campaign reaches them. "
        "Who may: as for consent (the customer, an agent, a teller in session, their RM)."
    )
    async def place_do_not_contact(
        self, info: Info, reason: str, customer_id: strawberry.ID | None = None
    ) -> DoNotContactResult:
        return await _do_not_contact(info, "placeDoNotContact", customer_id, reason)

    @strawberry.mutation(description="Take a customer off the do-not-contact list.")
    async def lift_do_not_contact(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> DoNotContactResult:
        return await _do_not_contact(info, "liftDoNotContact", customer_id, None)


async def _do_not_contact(
    info: Info, root_field: str, customer_id: strawberry.ID | None, reason: str | None
) -> DoNotContactResult:
    try:
        require(info, root_field)
        text = None if reason is None else validate_suppression_reason(reason)
        pk = await consent_subject(info, customer_id)
        if not await info.context.campaign_runs.set_do_not_contact(
            pk, text, info.context.principal.subject
        ):
            raise NotFound("customer", str(pk))
    except DomainError as exc:
        return rule_error_type(exc)
    return DoNotContactChanged(
        customer_id=strawberry.ID(encode_id("Customer", pk)), on_list=text is not None
    )
