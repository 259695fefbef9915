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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, BIT
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.campaigns import SqlCampaigns
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
    CONSENT_FOR,
    DEFAULT_POLICY,
    NEEDS,
    TIMELINE_CHANNEL,
    ContactPolicy,
    Reason,
)
from domain.campaigns.lifecycle import Campaign
from domain.campaigns.model import (
    CONTACT_EVENT,
    DIGITAL,
    CampaignKind,
    CampaignOutcome,
    CampaignStateConflict,
    CampaignStatus,
    ContactChannel,
    ResponseKind,
)
from domain.campaigns.report import BreakdownFigures, Figures, GroupFigures
from domain.campaigns.response_score import (
    FREQUENCY_BANDS,
    FREQUENCY_DAYS,
    MONETARY_BANDS,
    PAST_POINTS,
    RECENCY_BANDS,
    TIER_RANK,
    ScoreInputs,
)
from domain.campaigns.runs import LAST, Launch, Member, MemberFilter
from domain.contact_planning import TIER_FACTOR
from domain.interactions import InteractionOutcome
from domain.tasks import CALL_CENTER_QUEUE, COUNTER_QUEUE
from domain.value.segments import from_json

c = CustomerRow.__table__.c

# The launch's working set: dropped at commit, so a failed launch leaves nothing behind.
_scratch = MetaData()
_placed = Table(
    "campaign_launch",
    _scratch,
    Column("customer_id", BigInteger),
    Column("slot", Integer),
    Column("branch_id", BigInteger),
    Column("rm_id", BigInteger),
    Column("erased", Boolean),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

# How long a task contact is given, before the customer's value tier adjusts it.
TASK_DAYS = 7
# What a channel's owner is: the customer's RM, or a work queue.
_OWNER = {
    ContactChannel.RM_VISIT: ("rm", None),
    ContactChannel.CALL_CENTER: ("queue", CALL_CENTER_QUEUE),
    ContactChannel.COUNTER: ("queue", COUNTER_QUEUE),
}
_OUTCOME_ON_TIMELINE = {
    CampaignOutcome.ACCEPTED: InteractionOutcome.ACCEPTED,
    CampaignOutcome.DECLINED: InteractionOutcome.DECLINED,
    CampaignOutcome.NO_ANSWER: InteractionOutcome.NO_CONTACT,
}


def _place() -> Any:
    """The customer's place as PostgreSQL computes it: the first 8 bytes of the sha256 as a
    bit string, the top bit flipped so the bigint compares in the unsigned order (SHIFT)."""
    digest = func.encode(
        func.sha256(
            func.convert_to(
                literal("campaign:")
                + cast(bindparam("campaign_id", type_=BigInteger), Text)
                + literal(":customer:")
                + cast(c.id, Text),
                literal("UTF8"),
            )
        ),
        literal("hex"),
    )
    bits = cast(literal("x") + func.substr(digest, 1, 16), BIT(64))
    return cast(bits.op("#")(literal_column("X'8000000000000000'")), BigInteger)


def _arms_values(campaign: Campaign) -> tuple[str, dict[str, Any]]:
    """The campaign's arms as a VALUES list the statements join on, with bound parameters."""
    rows = []
    params: dict[str, Any] = {}
    plan = campaign.plan
    for n, arm in enumerate(plan.arms):
        owner_kind, owner_ref = _OWNER.get(arm.channel, (None, None))
        rows.append(
            f"({n}, CAST(:ch{n} AS text), CAST(:consent{n} AS text), CAST(:needs{n} AS text), "
            f"CAST(:offers{n} AS bigint[]), CAST(:cost{n} AS numeric), CAST(:msg{n} AS text), "
            f"CAST(:timeline{n} AS text), CAST(:owner_kind{n} AS text), "
            f"CAST(:owner_ref{n} AS text), CAST(:title{n} AS text), CAST(:name{n} AS text))"
        )
        params |= {
            f"ch{n}": arm.channel.value,
            f"consent{n}": CONSENT_FOR[arm.channel].value,
            f"needs{n}": NEEDS[arm.channel].value,
            f"offers{n}": list(arm.offer_product_ids),
            f"cost{n}": plan.cost_per_contact.get(arm.channel, Decimal(0)),
            f"msg{n}": arm.message,
            f"timeline{n}": TIMELINE_CHANNEL[arm.channel].value,
            f"owner_kind{n}": owner_kind,
            f"owner_ref{n}": owner_ref,
            f"title{n}": f"Campaign {plan.name}: {arm.name}"[:200],
            f"name{n}": arm.name,
        }
    columns = (
        "position, channel, consent, needs, offers, cost, message, timeline, owner_kind, "
        "owner_ref, title, name"
    )
    return f"(VALUES {', '.join(rows)}) AS a({columns})", params


def _bands(column: str, bands: Sequence[tuple[Any, int]], test: str) -> str:
    whens = " ".join(f"WHEN {column} {test} {limit} THEN {points}" for limit, points in bands)
    return f"CASE WHEN {column} IS NULL THEN 0 {whens} ELSE 0 END"


# The response score's points, generated from domain/campaigns/response_score.py's bands.
_SCORE = (
    f"({_bands('x.recency_days', RECENCY_BANDS, '<=')})"
    f" + ({_bands('x.frequency', FREQUENCY_BANDS, '>=')})"
    f" + ({_bands('x.monetary', MONETARY_BANDS, '>=')})"
    f" + ((2 * {PAST_POINTS} * (x.past_responses + 1) + (x.past_contacts + 2))"
    f" / (2 * (x.past_contacts + 2)))"
)
_TIER_RANK = (
    "CASE x.tier "
    + " ".join(f"WHEN '{tier}' THEN {rank}" for tier, rank in TIER_RANK.items() if tier is not None)
    + f" ELSE {TIER_RANK[None]} END"
)
_TIER_FACTOR = (
    "CASE m.tier "
    + " ".join(f"WHEN '{tier.value}' THEN {factor}" for tier, factor in TIER_FACTOR.items())
    + " ELSE 1.0 END"
)


def _members_sql(arms: str) -> str:
    return f"""
WITH recent AS (
  SELECT customer_id, sum(n) AS n FROM (
    SELECT m.customer_id, count(*) AS n
    FROM campaign_members m JOIN campaigns k ON k.id = m.campaign_id
    WHERE k.launched_at >= :since AND m.campaign_id <> :campaign_id
      AND m.reason = 'eligible' AND NOT m.control
    GROUP BY m.customer_id
    UNION ALL
    SELECT customer_id, count(*) FROM interactions
    WHERE kind = 'marketing_contact' AND campaign_id IS NULL AND occurred_at >= :since
    GROUP BY customer_id
  ) counted GROUP BY customer_id
)
INSERT INTO campaign_members (campaign_id, customer_id, arm, control, reason, branch_id, rm_id)
SELECT :campaign_id, t.customer_id, t.slot % :arms, t.slot < :arms,
  CASE
    WHEN t.erased THEN 'erased'
    WHEN EXISTS (SELECT 1 FROM legal_holds h
                 WHERE h.customer_id = t.customer_id AND h.until >= :today) THEN 'legal_hold'
    WHEN s.state = 'doubtful' THEN 'doubtful'
    WHEN s.state = 'exit' THEN 'exit'
    WHEN EXISTS (SELECT 1 FROM tasks o WHERE o.customer_id = t.customer_id
                 AND o.kind = 'complaint' AND o.status = 'open') THEN 'open_complaint'
    WHEN EXISTS (SELECT 1 FROM contact_suppressions d
                 WHERE d.customer_id = t.customer_id) THEN 'do_not_contact'
    WHEN NOT (
      (:notice AND EXISTS (SELECT 1 FROM holdings hd WHERE hd.customer_id = t.customer_id
                           AND hd.status <> 'closed' AND hd.product_id = ANY (a.offers)))
      OR coalesce(
        (SELECT k.granted FROM consents k WHERE k.customer_id = t.customer_id
          AND k.purpose = 'marketing' AND k.channel = a.consent ORDER BY k.version DESC LIMIT 1),
        (SELECT k.granted FROM consents k WHERE k.customer_id = t.customer_id
          AND k.purpose = 'marketing' AND k.channel = 'all' ORDER BY k.version DESC LIMIT 1),
        false)
    ) THEN 'no_consent'
    WHEN (a.needs = 'rm' AND t.rm_id IS NULL)
      OR (a.needs IN ('phone', 'email') AND NOT EXISTS (
            SELECT 1 FROM contact_points p
            WHERE p.customer_id = t.customer_id AND p.kind = a.needs)) THEN 'unreachable'
    WHEN coalesce(r.n, 0) >= :max_contacts THEN 'frequency_cap'
    ELSE 'eligible'
  END,
  t.branch_id, t.rm_id
FROM campaign_launch t
JOIN {arms} ON a.position = t.slot % :arms
LEFT JOIN relationship_states s ON s.customer_id = t.customer_id
LEFT JOIN recent r ON r.customer_id = t.customer_id
"""


_SCORE_SQL = f"""
UPDATE campaign_members m
SET tier = x.tier, monetary = x.monetary, contribution_before = x.monetary,
    recency_days = x.recency_days, frequency = x.frequency,
    past_contacts = x.past_contacts, past_responses = x.past_responses,
    score = {_SCORE},
    priority = ({_TIER_RANK}) * 1000 + 100 - ({_SCORE})
FROM (
  SELECT e.customer_id, v.tier, v.contribution AS monetary,
    (:today - (SELECT max(i.occurred_at) FROM interactions i
               WHERE i.customer_id = e.customer_id)::date) AS recency_days,
    (SELECT count(*) FROM interactions i WHERE i.customer_id = e.customer_id
       AND i.occurred_at >= :frequency_since)::int AS frequency,
    coalesce(past.contacts, 0)::int AS past_contacts,
    coalesce(past.responses, 0)::int AS past_responses
  FROM campaign_members e
  LEFT JOIN LATERAL (
    SELECT cv.tier, cv.contribution FROM customer_values cv
    WHERE cv.customer_id = e.customer_id ORDER BY cv.period DESC LIMIT 1
  ) v ON true
  LEFT JOIN LATERAL (
    SELECT count(*) AS contacts, count(p.responded_at) AS responses
    FROM campaign_members p
    WHERE p.customer_id = e.customer_id AND p.campaign_id <> :campaign_id
      AND p.reason = 'eligible' AND NOT p.control
  ) past ON true
  WHERE e.campaign_id = :campaign_id AND e.reason = 'eligible'
) x
WHERE m.campaign_id = :campaign_id AND m.customer_id = x.customer_id
"""


def _tasks_sql(arms: str) -> str:
    return f"""
WITH made AS (
  INSERT INTO tasks (customer_id, kind, status, title, owner_kind, owner_ref, due_at,
                     created_by, planned_channel, campaign_id)
  SELECT m.customer_id, 'contact', 'open',
         left(a.title || ' (score ' || m.score || ')', 200), a.owner_kind,
         coalesce(a.owner_ref, m.rm_id::text),
         -- Queues are worked by due time: the tier sets the day, the score the order within
         -- it (a point a minute earlier), so the likeliest of the most valuable come first.
         CASE WHEN a.channel = 'counter' THEN CAST(:ends_at AS timestamptz)
              ELSE least(CAST(:ends_at AS timestamptz), CAST(:now AS timestamptz)
                         + make_interval(days => :task_days) * ({_TIER_FACTOR})
                         - make_interval(mins => m.score))
         END,
         CAST(:actor AS text), a.timeline, CAST(:campaign_id AS bigint)
  FROM campaign_members m JOIN {arms} ON a.position = m.arm
  WHERE m.campaign_id = :campaign_id AND m.reason = 'eligible' AND NOT m.control
    AND a.owner_kind IS NOT NULL
  ORDER BY m.priority, m.customer_id
  RETURNING id, customer_id
), linked AS (
  UPDATE campaign_members m SET task_id = made.id
  FROM made WHERE m.campaign_id = :campaign_id AND m.customer_id = made.customer_id
)
INSERT INTO outbox (customer_id, topic, payload)
SELECT customer_id, 'task.opened', jsonb_build_object('taskId', id, 'kind', 'contact')
FROM made
"""


def _digital_sql(arms: str) -> str:
    return f"""
WITH made AS (
  INSERT INTO interactions (customer_id, channel, kind, occurred_at, cost, outcome, summary,
                            offers, products_discussed, recorded_by, campaign_id, campaign_arm)
  SELECT m.customer_id, a.timeline, 'marketing_contact', CAST(:now AS timestamptz), a.cost,
         'pending', a.message,
         ARRAY(SELECT p.code FROM products p WHERE p.id = ANY (a.offers) ORDER BY p.id),
         a.offers, CAST(:actor AS text), CAST(:campaign_id AS bigint), m.arm
  FROM campaign_members m JOIN {arms} ON a.position = m.arm
  WHERE m.campaign_id = :campaign_id AND m.reason = 'eligible' AND NOT m.control
    AND a.channel = ANY (CAST(:digital AS text[]))
  RETURNING id, customer_id, campaign_arm, channel
), linked AS (
  UPDATE campaign_members m SET interaction_id = made.id,
    contacted_at = CAST(:now AS timestamptz)
  FROM made WHERE m.campaign_id = :campaign_id AND m.customer_id = made.customer_id
)
INSERT INTO outbox (customer_id, topic, payload)
SELECT made.customer_id, e.topic, e.payload
FROM made JOIN {arms} ON a.position = made.campaign_arm
CROSS JOIN LATERAL (VALUES
  ('{CONTACT_EVENT}', jsonb_build_object(
     'campaignId', CAST(:campaign_id AS bigint), 'arm', a.name, 'channel', a.channel, 'message', a.message,
     'offerProductIds', to_jsonb(a.offers), 'interactionId', made.id)),
  ('interaction.recorded', jsonb_build_object(
     'interactionId', made.id, 'channel', made.channel, 'kind', 'marketing_contact',
     'occurredAt', CAST(:now_text AS text)))
) AS e(topic, payload)
"""


def _attribution_sql(arms: str) -> str:
    return f"""
WITH opened AS (
  SELECT DISTINCT ON (h.customer_id) h.customer_id, h.id, h.opened_on
  FROM holdings h
  JOIN campaign_members m ON m.campaign_id = :campaign_id AND m.customer_id = h.customer_id
  JOIN {arms} ON a.position = m.arm
  WHERE h.product_id = ANY (:all_offers) AND h.product_id = ANY (a.offers)
    AND h.opened_on BETWEEN :opened_from AND :opened_to AND m.reason = 'eligible'
  ORDER BY h.customer_id, h.opened_on, h.id
), found AS (
  SELECT e.customer_id, o.id AS holding_id, o.opened_on, e.outcome, e.outcome_at,
    (SELECT cv.contribution FROM customer_values cv WHERE cv.customer_id = e.customer_id
     ORDER BY cv.period DESC LIMIT 1) AS contribution
  FROM campaign_members e LEFT JOIN opened o ON o.customer_id = e.customer_id
  WHERE e.campaign_id = :campaign_id AND e.reason = 'eligible'
)
UPDATE campaign_members m
SET response = CASE WHEN f.holding_id IS NOT NULL THEN 'opened'
                    WHEN f.outcome = 'accepted' THEN 'accepted' END,
    responded_at = CASE WHEN f.holding_id IS NOT NULL THEN f.opened_on::timestamptz
                        WHEN f.outcome = 'accepted' THEN f.outcome_at END,
    response_holding_id = f.holding_id,
    contribution_after = f.contribution
FROM found f
WHERE m.campaign_id = :campaign_id AND m.customer_id = f.customer_id
"""


def _figures_sql(arms: str) -> str:
    return f"""
SELECT GROUPING(m.arm, m.control) AS not_group, GROUPING(a.channel) AS not_channel,
       GROUPING(m.branch_id) AS not_branch,
       m.arm, m.control, a.channel, m.branch_id, m.rm_id,
       count(*) FILTER (WHERE NOT m.control) AS members,
       count(m.contacted_at) FILTER (WHERE NOT m.control) AS contacted,
       count(m.responded_at) FILTER (WHERE NOT m.control) AS responded,
       count(*) FILTER (WHERE m.control) AS control_members,
       count(m.responded_at) FILTER (WHERE m.control) AS control_responded,
       coalesce(sum(a.cost) FILTER (WHERE NOT m.control AND m.contacted_at IS NOT NULL), 0)
         AS cost,
       count(*) FILTER (WHERE m.contribution_before IS NOT NULL
                          AND m.contribution_after IS NOT NULL) AS valued,
       coalesce(sum(m.contribution_after - m.contribution_before), 0) AS change,
       count(*) FILTER (WHERE m.responded_at IS NOT NULL AND m.contribution_before IS NOT NULL
                          AND m.contribution_after IS NOT NULL) AS responders_valued,
       coalesce(sum(m.contribution_after - m.contribution_before)
                FILTER (WHERE m.responded_at IS NOT NULL), 0) AS responders_change
FROM campaign_members m JOIN {arms} ON a.position = m.arm
WHERE m.campaign_id = :campaign_id AND m.reason = 'eligible'
GROUP BY GROUPING SETS ((m.arm, m.control), (a.channel), (m.branch_id), (m.rm_id))
"""


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
        arms, arm_params = _arms_values(campaign)
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
            moved = await conn.scalar(
                update(CampaignRow)
                .where(
                    CampaignRow.id == campaign.id,
                    CampaignRow.status == CampaignStatus.APPROVED.value,
                )
                .values(status=CampaignStatus.RUNNING.value, launched_at=now)
                .returning(CampaignRow.id)
            )
            if moved is None:
                return None
            rules = [
                from_json(r)
                for r in await conn.scalars(
                    select(SegmentRow.rule).where(SegmentRow.id.in_(list(plan.segment_ids)))
                )
            ]
            await conn.run_sync(lambda sync: _placed.create(sync))
            slot = func.width_bucket(_place(), cast(literal(inner), ARRAY(BigInteger)))
            await conn.execute(
                insert(_placed).from_select(
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
            await conn.execute(text(_members_sql(arms)), params)
            await conn.execute(text("ANALYZE campaign_members"))
            await conn.execute(text(_SCORE_SQL), params)
            await conn.execute(text(_tasks_sql(arms)), params)
            await conn.execute(text(_digital_sql(arms)), params)
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
        on_timeline = _OUTCOME_ON_TIMELINE[outcome].value
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
        launched = await conn.scalar(
            select(CampaignRow.launched_at).where(CampaignRow.id == campaign.id)
        )
        assert launched is not None
        arms, arm_params = _arms_values(campaign)
        await conn.execute(
            text(_attribution_sql(arms)),
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
            moved = await conn.scalar(
                update(CampaignRow)
                .where(
                    CampaignRow.id == campaign.id,
                    CampaignRow.status == CampaignStatus.RUNNING.value,
                )
                .values(status=CampaignStatus.COMPLETED.value, ended_at=now)
                .returning(CampaignRow.id)
            )
            if moved is None:
                return None
            await self._attribute(conn, campaign, now)
            (found,) = await SqlCampaigns.read(conn, [campaign.id])
            return found

    async def figures(self, campaign: Campaign) -> Figures:
        arms, arm_params = _arms_values(campaign)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(_figures_sql(arms)), {**arm_params, "campaign_id": campaign.id}
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
