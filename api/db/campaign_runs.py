"""SqlCampaignRuns: a campaign's launch, contacts, outcomes, attribution and report, each a
handful of set-based statements (domain/campaigns/runs.py says what is allowed).

The launch, in one transaction:
1. the campaign moves approved → running (compare-and-set);
2. every customer of the target segments is placed by the hash draw (sha256, as
   domain/campaigns/assignment.py: the same exact cuts) into a temporary table;
3. each is frozen as a member with the first reason they are out, or `eligible`, checked for
   their arm's channel (control customers for the arm they would have been in);
4. eligible members get their value tier, response score inputs and contribution before;
5. RM visits, outbound calls and counter offers become tasks; app pushes, SMS and e-mails
   become interactions on the timeline with `campaign.contact` events for the channel systems.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.campaign_sql import (
    OUTCOME_ON_TIMELINE,
    PLACED,
    TASK_DAYS,
    arms_values,
    attribution_sql,
    digital_sql,
    figures_sql,
    members_sql,
    place_sql,
    tasks_sql,
)
from api.db.campaigns import SqlCampaigns, move_status
from api.db.segments import targeted
from api.db.tables import (
    CampaignMemberRow,
    CampaignRow,
    ContactPolicyRow,
    ContactSuppressionRow,
    CustomerRow,
    ProductRow,
    SegmentRow,
)
from domain.campaigns.assignment import SHIFT, cuts
from domain.campaigns.eligibility import (
    DEFAULT_POLICY,
    TIMELINE_CHANNEL,
    ContactPolicy,
    Reason,
)
from domain.campaigns.lifecycle import Campaign
from domain.campaigns.model import (
    DIGITAL,
    CampaignKind,
    CampaignOutcome,
    CampaignStateConflict,
    CampaignStatus,
    ResponseKind,
)
from domain.campaigns.report import BreakdownFigures, Figures, GroupFigures
from domain.campaigns.response_score import (
    FREQUENCY_DAYS,
    ScoreInputs,
)
from domain.campaigns.runs import LAST, Launch, Member, MemberFilter
from domain.value.segments import from_json

c = CustomerRow.__table__.c


def _breakdown(key: object, r: Any) -> BreakdownFigures:
    return BreakdownFigures(
        key=None if key is None else str(key),
        members=r.members,
        contacted=r.contacted,
        responded=r.responded,
        control_members=r.control_members,
        control_responded=r.control_responded,
        cost=r.cost,
    )


def _member(row: Any) -> Member:
    eligible = row.reason == Reason.ELIGIBLE.value and row.past_contacts is not None
    return Member(
        campaign_id=row.campaign_id,
        customer_id=row.customer_id,
        arm=row.arm,
        control=row.control,
        reason=Reason(row.reason),
        task_id=row.task_id,
        interaction_id=row.interaction_id,
        outcome=None if row.outcome is None else CampaignOutcome(row.outcome),
        tier=row.tier,
        score_inputs=ScoreInputs(
            recency_days=row.recency_days,
            frequency=row.frequency or 0,
            monetary=row.monetary,
            past_contacts=row.past_contacts or 0,
            past_responses=row.past_responses or 0,
        )
        if eligible
        else None,
        priority=row.priority,
        contacted_at=row.contacted_at,
        response=None if row.response is None else ResponseKind(row.response),
        responded_at=row.responded_at,
    )


class SqlCampaignRuns:
    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        # Wakes the outbox relay: a launch's events go out at once, not at the next poll.
        self._on_commit = on_commit or (lambda: None)

    async def policy(self) -> ContactPolicy:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(ContactPolicyRow.max_contacts, ContactPolicyRow.window_days).where(
                        ContactPolicyRow.name == "marketing"
                    )
                )
            ).first()
        return DEFAULT_POLICY if row is None else ContactPolicy(row.max_contacts, row.window_days)

    async def save_policy(self, policy: ContactPolicy, actor: str) -> ContactPolicy:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(ContactPolicyRow)
                .where(ContactPolicyRow.name == "marketing")
                .values(
                    max_contacts=policy.max_contacts,
                    window_days=policy.window_days,
                    updated_by=actor,
                    updated_at=func.now(),
                )
            )
        return policy

    async def launch(
        self, campaign: Campaign, policy: ContactPolicy, actor: str, now: datetime
    ) -> Launch | None:
        plan = campaign.plan
        arms, arm_params = arms_values(campaign)
        params: dict[str, Any] = {
            **arm_params,
            "campaign_id": campaign.id,
            "arms": len(plan.arms),
            "now": now,
            "now_text": now.isoformat(),
            "today": now.date(),
            "since": now - timedelta(days=policy.window_days),
            "frequency_since": now - timedelta(days=FREQUENCY_DAYS),
            "max_contacts": policy.max_contacts,
            "notice": plan.kind is CampaignKind.PRODUCT_NOTICE,
            "ends_at": plan.ends_at,
            "task_days": TASK_DAYS,
            "actor": actor,
            "digital": sorted(ch.value for ch in DIGITAL),
        }
        inner = [cut - SHIFT for cut in cuts(plan.holdout_share, [arm.share for arm in plan.arms])]
        async with self._engine.begin() as conn:
            if not await move_status(
                conn,
                campaign.id,
                CampaignStatus.APPROVED,
                status=CampaignStatus.RUNNING.value,
                launched_at=now,
            ):
                return None
            rules = [
                from_json(r)
                for r in await conn.scalars(
                    select(SegmentRow.rule).where(SegmentRow.id.in_(list(plan.segment_ids)))
                )
            ]
            await conn.run_sync(lambda sync: PLACED.create(sync))
            slot = func.width_bucket(place_sql(), cast(literal(inner), ARRAY(BigInteger)))
            await conn.execute(
                insert(PLACED).from_select(
                    ["customer_id", "slot", "branch_id", "rm_id", "erased"],
                    select(
                        c.id,
                        slot,
                        c.home_branch_id,
                        c.relationship_manager_id,
                        c.erased_at.is_not(None),
                    ).where(targeted(rules)),
                ),
                {"campaign_id": campaign.id},
            )
            # Statistics first: a launch's rows are new to the planner (the working set has
            # none, the members' table those of whatever was there before), and without them
            # it joins a million rows as if they were a handful.
            await conn.execute(text("ANALYZE campaign_launch"))
            # Room to hash the lookups (a million customer ids) instead of probing them.
            await conn.execute(text("SET LOCAL work_mem = '256MB'"))
            await conn.execute(text(members_sql(arms)), params)
            await conn.execute(text("ANALYZE campaign_members"))
            await conn.execute(text(tasks_sql(arms)), params)
            await conn.execute(text(digital_sql(arms)), params)
            launched = await self._launch_counts(conn, campaign.id)
        self._on_commit()
        return launched

    @staticmethod
    async def _launch_counts(conn: AsyncConnection, campaign_id: int) -> Launch:
        rows = (
            await conn.execute(
                text(
                    "SELECT reason, control, count(*) AS n, count(task_id) AS tasks, "
                    "count(interaction_id) AS sent FROM campaign_members "
                    "WHERE campaign_id = :campaign_id GROUP BY reason, control"
                ),
                {"campaign_id": campaign_id},
            )
        ).all()
        by_reason: dict[Reason, int] = {}
        for r in rows:
            by_reason[Reason(r.reason)] = by_reason.get(Reason(r.reason), 0) + r.n
        eligible = [r for r in rows if r.reason == Reason.ELIGIBLE.value]
        return Launch(
            by_reason=by_reason,
            treated=sum(r.n for r in eligible if not r.control),
            control=sum(r.n for r in eligible if r.control),
            tasks_opened=sum(r.tasks for r in rows),
            digital_sent=sum(r.sent for r in rows),
        )

    async def member(self, campaign_id: int, customer_id: int) -> Member | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT * FROM campaign_members "
                        "WHERE campaign_id = :campaign_id AND customer_id = :customer_id"
                    ),
                    {"campaign_id": campaign_id, "customer_id": customer_id},
                )
            ).first()
        return None if row is None else _member(row)

    async def members_page(
        self, campaign_id: int, first: int, after: tuple[int, int] | None, filter: MemberFilter
    ) -> list[Member]:
        m = CampaignMemberRow.__table__.c
        rank = func.coalesce(m.priority, LAST)
        query = select(CampaignMemberRow.__table__).where(m.campaign_id == campaign_id)
        if filter.reason is not None:
            query = query.where(m.reason == filter.reason.value)
        if filter.control is not None:
            query = query.where(m.control.is_(filter.control))
        if filter.arm is not None:
            query = query.where(m.arm == filter.arm)
        if after is not None:
            query = query.where(tuple_(rank, m.customer_id) > tuple_(after[0], after[1]))
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(rank, m.customer_id).limit(first))
            return [_member(r) for r in rows]

    async def set_do_not_contact(self, customer_id: int, reason: str | None, actor: str) -> bool:
        async with self._engine.begin() as conn:
            if await conn.scalar(select(c.id).where(c.id == customer_id)) is None:
                return False
            if reason is None:
                await conn.execute(
                    delete(ContactSuppressionRow).where(
                        ContactSuppressionRow.customer_id == customer_id
                    )
                )
            else:
                await conn.execute(
                    pg_insert(ContactSuppressionRow)
                    .values(customer_id=customer_id, reason=reason, placed_by=actor)
                    .on_conflict_do_update(
                        index_elements=["customer_id"],
                        set_={"reason": reason, "placed_by": actor, "placed_at": func.now()},
                    )
                )
        return True

    async def record_outcome(
        self,
        campaign: Campaign,
        member: Member,
        outcome: CampaignOutcome,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> int:
        arm = campaign.plan.arms[member.arm]
        on_timeline = OUTCOME_ON_TIMELINE[outcome].value
        async with self._engine.begin() as conn:
            # Guarded: two reports of one contact cannot both make it final.
            claimed = await conn.scalar(
                text(
                    "UPDATE campaign_members SET outcome = :outcome, outcome_at = :now, "
                    "contacted_at = coalesce(contacted_at, :now) "
                    "WHERE campaign_id = :campaign_id AND customer_id = :customer_id "
                    "AND (outcome IS NULL OR outcome = 'no_answer') RETURNING 1"
                ),
                {
                    "outcome": outcome.value,
                    "now": now,
                    "campaign_id": campaign.id,
                    "customer_id": member.customer_id,
                },
            )
            if claimed is None:
                raise CampaignStateConflict("the contact's outcome was recorded meanwhile")
            offers = list(
                await conn.scalars(
                    select(ProductRow.code)
                    .where(ProductRow.id.in_(list(arm.offer_product_ids)))
                    .order_by(ProductRow.id)
                )
            )
            if arm.channel in DIGITAL and member.interaction_id is not None:
                # The channel system reports back on the contact made (and announced) at launch.
                interaction_id = member.interaction_id
                await conn.execute(
                    text("UPDATE interactions SET outcome = :outcome WHERE id = :id"),
                    {"outcome": on_timeline, "id": interaction_id},
                )
            else:
                interaction_id = await self._contact(
                    conn, campaign, member, offers, on_timeline, note, actor, now
                )
                await conn.execute(
                    text(
                        "UPDATE campaign_members SET interaction_id = :interaction_id "
                        "WHERE campaign_id = :campaign_id AND customer_id = :customer_id"
                    ),
                    {
                        "interaction_id": interaction_id,
                        "campaign_id": campaign.id,
                        "customer_id": member.customer_id,
                    },
                )
                await self._emit(
                    conn,
                    member.customer_id,
                    "interaction.recorded",
                    {
                        "interactionId": interaction_id,
                        "channel": TIMELINE_CHANNEL[arm.channel].value,
                        "kind": "marketing_contact",
                        "occurredAt": now.isoformat(),
                    },
                )
            if member.task_id is not None and outcome is not CampaignOutcome.NO_ANSWER:
                done = await conn.scalar(
                    text(
                        "UPDATE tasks SET status = 'done', result = :result, "
                        "result_interaction_id = :interaction_id, completed_at = :now "
                        "WHERE id = :task_id AND status = 'open' RETURNING id"
                    ),
                    {
                        "result": outcome.value if note is None else f"{outcome.value}: {note}",
                        "interaction_id": interaction_id,
                        "now": now,
                        "task_id": member.task_id,
                    },
                )
                if done is not None:
                    await self._emit(
                        conn,
                        member.customer_id,
                        "task.completed",
                        {"taskId": member.task_id, "interactionId": interaction_id},
                    )
        self._on_commit()
        return interaction_id

    @staticmethod
    async def _contact(
        conn: AsyncConnection,
        campaign: Campaign,
        member: Member,
        offers: list[str],
        outcome: str,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> int:
        arm = campaign.plan.arms[member.arm]
        new_id = await conn.scalar(
            text(
                "INSERT INTO interactions (customer_id, channel, kind, occurred_at, staff_code, "
                "cost, outcome, summary, offers, products_discussed, recorded_by, campaign_id, "
                "campaign_arm) VALUES (:customer_id, :channel, 'marketing_contact', :now, "
                ":staff, :cost, :outcome, :summary, :offers, :products, :actor, :campaign_id, "
                ":arm) RETURNING id"
            ),
            {
                "customer_id": member.customer_id,
                "channel": TIMELINE_CHANNEL[arm.channel].value,
                "now": now,
                "staff": actor[:40],
                "cost": campaign.plan.cost_per_contact.get(arm.channel),
                "outcome": outcome,
                "summary": note or arm.message,
                "offers": offers,
                "products": list(arm.offer_product_ids),
                "actor": actor,
                "campaign_id": campaign.id,
                "arm": member.arm,
            },
        )
        assert new_id is not None
        return int(new_id)

    @staticmethod
    async def _emit(
        conn: AsyncConnection, customer_id: int, topic: str, payload: dict[str, Any]
    ) -> None:
        await conn.execute(
            text(
                "INSERT INTO outbox (customer_id, topic, payload) "
                "VALUES (:customer_id, :topic, CAST(:payload AS jsonb))"
            ),
            {"customer_id": customer_id, "topic": topic, "payload": _json(payload)},
        )

    async def attribute(self, campaign: Campaign, now: datetime) -> int:
        async with self._engine.begin() as conn:
            return await self._attribute(conn, campaign, now)

    @staticmethod
    async def _attribute(conn: AsyncConnection, campaign: Campaign, now: datetime) -> int:
        plan = campaign.plan
        launched = campaign.launched_at
        assert launched is not None  # only a launched campaign is attributed (domain)
        arms, arm_params = arms_values(campaign)
        await conn.execute(
            text(attribution_sql(arms)),
            {
                **arm_params,
                "campaign_id": campaign.id,
                "all_offers": sorted({p for arm in plan.arms for p in arm.offer_product_ids}),
                "opened_from": launched.date(),
                "opened_to": min(plan.ends_at, now).date(),
            },
        )
        await conn.execute(
            update(CampaignRow).where(CampaignRow.id == campaign.id).values(attributed_at=now)
        )
        responded = await conn.scalar(
            text(
                "SELECT count(*) FROM campaign_members WHERE campaign_id = :campaign_id "
                "AND reason = 'eligible' AND responded_at IS NOT NULL"
            ),
            {"campaign_id": campaign.id},
        )
        return int(responded or 0)

    async def complete(self, campaign: Campaign, actor: str, now: datetime) -> Campaign | None:
        async with self._engine.begin() as conn:
            if not await move_status(
                conn,
                campaign.id,
                CampaignStatus.RUNNING,
                status=CampaignStatus.COMPLETED.value,
                ended_at=now,
            ):
                return None
            await self._attribute(conn, campaign, now)
            (found,) = await SqlCampaigns.read(conn, [campaign.id])
            return found

    async def figures(self, campaign: Campaign) -> Figures:
        arms, arm_params = arms_values(campaign)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(figures_sql(arms)), {**arm_params, "campaign_id": campaign.id}
                )
            ).all()
        groups: dict[tuple[int, bool], GroupFigures] = {}
        by_channel: list[BreakdownFigures] = []
        by_branch: list[BreakdownFigures] = []
        by_rm: list[BreakdownFigures] = []
        for r in rows:
            if not r.not_group:
                control = bool(r.control)
                groups[(r.arm, control)] = GroupFigures(
                    members=r.control_members if control else r.members,
                    contacted=0 if control else r.contacted,
                    responded=r.control_responded if control else r.responded,
                    valued=r.valued,
                    change=r.change,
                    responders_valued=r.responders_valued,
                    responders_change=r.responders_change,
                )
            elif not r.not_channel:
                by_channel.append(_breakdown(r.channel, r))
            elif not r.not_branch:
                by_branch.append(_breakdown(r.branch_id, r))
            else:
                by_rm.append(_breakdown(r.rm_id, r))
        order = lambda b: (-b.members, b.key or "")  # noqa: E731
        return Figures(
            groups=groups,
            by_channel=sorted(by_channel, key=order),
            by_branch=sorted(by_branch, key=order),
            by_rm=sorted(by_rm, key=order),
        )


def _json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))
