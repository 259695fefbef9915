"""The SQL of a campaign's launch, attribution and report (api/db/campaign_runs.py runs it):
text statements over the arms as a VALUES list, and the hash draw and response score
generated from the domain's definitions (domain/campaigns/assignment.py, response_score.py),
so the two are written once."""

from __future__ import annotations

from collections.abc import Sequence
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
    func,
    literal,
    literal_column,
)
from sqlalchemy.dialects.postgresql import BIT

from api.db.tables import CustomerRow
from domain.campaigns.eligibility import CONSENT_FOR, NEEDS, TIMELINE_CHANNEL
from domain.campaigns.lifecycle import Campaign
from domain.campaigns.model import CONTACT_EVENT, CampaignOutcome, ContactChannel
from domain.campaigns.response_score import (
    FREQUENCY_BANDS,
    MONETARY_BANDS,
    PAST_POINTS,
    RECENCY_BANDS,
    TIER_RANK,
)
from domain.contact_planning import TIER_FACTOR
from domain.interactions import InteractionOutcome
from domain.tasks import CALL_CENTER_QUEUE, COUNTER_QUEUE

c = CustomerRow.__table__.c

# The launch's working set: dropped at commit, so a failed launch leaves nothing behind.
_scratch = MetaData()
PLACED = Table(
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
OUTCOME_ON_TIMELINE = {
    CampaignOutcome.ACCEPTED: InteractionOutcome.ACCEPTED,
    CampaignOutcome.DECLINED: InteractionOutcome.DECLINED,
    CampaignOutcome.NO_ANSWER: InteractionOutcome.NO_CONTACT,
}


def place_sql() -> Any:
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


def arms_values(campaign: Campaign) -> tuple[str, dict[str, Any]]:
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
SCORE = (
    f"({_bands('x.recency_days', RECENCY_BANDS, '<=')})"
    f" + ({_bands('x.frequency', FREQUENCY_BANDS, '>=')})"
    f" + ({_bands('x.monetary', MONETARY_BANDS, '>=')})"
    f" + ((2 * {PAST_POINTS} * (x.past_responses + 1) + (x.past_contacts + 2))"
    f" / (2 * (x.past_contacts + 2)))"
)
TIER_RANK_SQL = (
    "CASE x.tier "
    + " ".join(f"WHEN '{tier}' THEN {rank}" for tier, rank in TIER_RANK.items() if tier is not None)
    + f" ELSE {TIER_RANK[None]} END"
)
_TIER_FACTOR = (
    "CASE m.tier "
    + " ".join(f"WHEN '{tier.value}' THEN {factor}" for tier, factor in TIER_FACTOR.items())
    + " ELSE 1.0 END"
)


def members_sql(arms: str) -> str:
    """Every targeted customer (the working set `campaign_launch`) frozen as a member: the
    first reason they are out, or eligible with their score's inputs, in one INSERT.

    The lookups a reason needs are hashed once (`IN` over a table's ids, the latest consents
    joined) rather than probed a million times; the score's lookups run for eligible members
    only (the lateral's filter on the reason)."""
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
), consent AS MATERIALIZED (
  -- The latest marketing answer per channel (domain/privacy/consents.allows).
  SELECT DISTINCT ON (customer_id, channel) customer_id, channel, granted
  FROM consents WHERE purpose = 'marketing'
  ORDER BY customer_id, channel, version DESC
), placed AS (
  SELECT t.customer_id, t.slot, t.branch_id, t.rm_id,
    CASE
      WHEN t.erased THEN 'erased'
      WHEN t.customer_id IN (SELECT customer_id FROM legal_holds WHERE until >= :today)
        THEN 'legal_hold'
      WHEN s.state = 'doubtful' THEN 'doubtful'
      WHEN s.state = 'exit' THEN 'exit'
      WHEN t.customer_id IN (SELECT customer_id FROM tasks
                             WHERE kind = 'complaint' AND status = 'open') THEN 'open_complaint'
      WHEN t.customer_id IN (SELECT customer_id FROM contact_suppressions)
        THEN 'do_not_contact'
      WHEN NOT (
        (:notice AND EXISTS (SELECT 1 FROM holdings hd WHERE hd.customer_id = t.customer_id
                             AND hd.status <> 'closed' AND hd.product_id = ANY (a.offers)))
        OR coalesce(specific.granted, general.granted, false)
      ) THEN 'no_consent'
      WHEN (a.needs = 'rm' AND t.rm_id IS NULL)
        OR (a.needs = 'phone' AND t.customer_id NOT IN (
              SELECT customer_id FROM contact_points WHERE kind = 'phone'))
        OR (a.needs = 'email' AND t.customer_id NOT IN (
              SELECT customer_id FROM contact_points WHERE kind = 'email')) THEN 'unreachable'
      WHEN coalesce(r.n, 0) >= :max_contacts THEN 'frequency_cap'
      ELSE 'eligible'
    END AS reason
  FROM campaign_launch t
  JOIN {arms} ON a.position = t.slot % :arms
  LEFT JOIN relationship_states s ON s.customer_id = t.customer_id
  LEFT JOIN recent r ON r.customer_id = t.customer_id
  LEFT JOIN consent specific
    ON specific.customer_id = t.customer_id AND specific.channel = a.consent
  LEFT JOIN consent general ON general.customer_id = t.customer_id AND general.channel = 'all'
)
INSERT INTO campaign_members (campaign_id, customer_id, arm, control, reason, branch_id, rm_id,
    tier, monetary, contribution_before, recency_days, frequency, past_contacts,
    past_responses, score, priority)
SELECT :campaign_id, p.customer_id, p.slot % :arms, p.slot < :arms, p.reason, p.branch_id,
       p.rm_id, x.tier, x.monetary, x.monetary, x.recency_days, x.frequency, x.past_contacts,
       x.past_responses, {SCORE}, ({TIER_RANK_SQL}) * 1000 + 100 - ({SCORE})
FROM placed p
LEFT JOIN LATERAL (
  SELECT v.tier, v.contribution AS monetary,
         (CAST(:today AS date) - i.last::date) AS recency_days,
         i.frequency::int AS frequency,
         past.contacts::int AS past_contacts, past.responses::int AS past_responses
  FROM (SELECT max(occurred_at) AS last,
               count(*) FILTER (WHERE occurred_at >= :frequency_since) AS frequency
        FROM interactions WHERE customer_id = p.customer_id) i
  CROSS JOIN (SELECT count(*) AS contacts, count(responded_at) AS responses
              FROM campaign_members
              WHERE customer_id = p.customer_id AND campaign_id <> :campaign_id
                AND reason = 'eligible' AND NOT control) past
  LEFT JOIN LATERAL (
    SELECT cv.tier, cv.contribution FROM customer_values cv
    WHERE cv.customer_id = p.customer_id ORDER BY cv.period DESC LIMIT 1
  ) v ON true
  WHERE p.reason = 'eligible'
) x ON true
"""


def tasks_sql(arms: str) -> str:
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


def digital_sql(arms: str) -> str:
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


def attribution_sql(arms: str) -> str:
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


def figures_sql(arms: str) -> str:
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
