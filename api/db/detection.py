"""Detection in PostgreSQL: the facts the rules need, gathered set-based for a whole batch
(the alerts it raises are written through api/db/alerts.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.detection import detector
from domain.fund_movements import MovementDirection
from domain.products import DEPOSIT_CATEGORIES

_IDS = bindparam("ids", type_=ARRAY(BigInteger))
# The customer's value tier: the latest scored month's (none before the first scoring), for
# thresholds scoped `tier:<tier>` (domain/detection/rules.py).
_TIER = (
    "(SELECT v.tier FROM customer_values v WHERE v.customer_id = c.id "
    "ORDER BY v.period DESC LIMIT 1)"
)
_DEPOSITS = [c.value for c in DEPOSIT_CATEGORIES]

# Per movement: the customer's typical movement in the same currency over the lookback
# (this one excluded), deposit balances in that currency, and the net deposit outflow over
# the balance-drop window (this one included). Windows differ by customer kind.
_MOVEMENTS = text(
    f"""
    WITH m AS (
        SELECT fm.id, fm.customer_id, fm.holding_id, fm.amount, fm.currency, fm.direction,
               fm.booked_at, c.kind, p.category = ANY(:deposits) AS deposit_holding,
               t.tier,
               coalesce(
                   (SELECT x.d FROM unnest(CAST(:lookback_tiers AS text[]),
                                           CAST(:lookback_tier_days AS int[])) AS x(t, d)
                    WHERE x.t = t.tier),
                   CASE WHEN c.kind = 'corporate' THEN CAST(:lookback_c AS int) ELSE CAST(:lookback_p AS int) END
               ) AS lookback,
               coalesce(
                   (SELECT x.d FROM unnest(CAST(:window_tiers AS text[]),
                                           CAST(:window_tier_days AS int[])) AS x(t, d)
                    WHERE x.t = t.tier),
                   CASE WHEN c.kind = 'corporate' THEN CAST(:window_c AS int) ELSE CAST(:window_p AS int) END
               ) AS window_days
        FROM fund_movements fm
        JOIN customers c ON c.id = fm.customer_id AND c.erased_at IS NULL
        CROSS JOIN LATERAL (SELECT {_TIER} AS tier) t
        JOIN holdings h ON h.id = fm.holding_id
        JOIN products p ON p.id = h.product_id
        WHERE fm.id = ANY(:ids)
    )
    SELECT m.*, typical.avg_amount, typical.n, deposits.total AS deposits_now,
           flow.net AS net_outflow
    FROM m
    CROSS JOIN LATERAL (
        SELECT avg(e.amount) AS avg_amount, count(*) AS n
        FROM fund_movements e
        WHERE e.customer_id = m.customer_id AND e.id <> m.id AND e.currency = m.currency
          AND e.booked_at <= m.booked_at
          AND e.booked_at > m.booked_at - make_interval(days => m.lookback)
    ) typical
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(h.balance), 0) AS total
        FROM holdings h JOIN products p ON p.id = h.product_id
        WHERE h.customer_id = m.customer_id AND h.status <> 'closed'
          AND h.currency = m.currency AND p.category = ANY(:deposits)
    ) deposits
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(CASE WHEN e.direction = 'debit' THEN e.amount ELSE -e.amount END), 0)
               AS net
        FROM fund_movements e
        JOIN holdings h ON h.id = e.holding_id
        JOIN products p ON p.id = h.product_id
        WHERE e.customer_id = m.customer_id AND e.currency = m.currency
          AND p.category = ANY(:deposits)
          AND e.booked_at <= m.booked_at
          AND e.booked_at > m.booked_at - make_interval(days => m.window_days)
    ) flow
    """
).bindparams(_IDS)

_CLOSURES = text(
    f"""
    SELECT h.id, h.customer_id, c.kind, p.code, p.category, {_TIER} AS tier,
           coalesce(h.closed_on::timestamptz, now()) AS observed_at,
           (SELECT count(*) FROM holdings o JOIN products op ON op.id = o.product_id
            WHERE o.customer_id = h.customer_id AND o.id <> h.id AND o.status <> 'closed'
              AND op.category = p.category) AS remaining
    FROM holdings h
    JOIN customers c ON c.id = h.customer_id AND c.erased_at IS NULL
    JOIN products p ON p.id = h.product_id
    WHERE h.id = ANY(:ids) AND h.status = 'closed'
    """
).bindparams(_IDS)

_COMPLAINTS = text(
    f"""
    SELECT i.id, i.customer_id, c.kind, i.channel, i.occurred_at, {_TIER} AS tier
    FROM interactions i JOIN customers c ON c.id = i.customer_id AND c.erased_at IS NULL
    WHERE i.id = ANY(:ids) AND i.kind = 'complaint'
    """
).bindparams(_IDS)

_SILENT = text(
    f"""
    SELECT c.id, c.kind, c.created_at, last.at AS last_at, t.tier
    FROM customers c
    CROSS JOIN LATERAL (SELECT {_TIER} AS tier) t
    CROSS JOIN LATERAL (
        SELECT max(i.occurred_at) AS at FROM interactions i WHERE i.customer_id = c.id
    ) last
    WHERE c.erased_at IS NULL AND c.merged_into_id IS NULL
      AND coalesce(last.at, c.created_at) <= CAST(:now AS timestamptz) - make_interval(
          days => coalesce(
              (SELECT x.d FROM unnest(CAST(:tiers AS text[]), CAST(:tier_days AS int[])) AS x(t, d)
               WHERE x.t = t.tier),
              CASE WHEN c.kind = 'corporate' THEN CAST(:days_c AS int) ELSE CAST(:days_p AS int) END))
    """
)

# Key customers' visit calendars: per customer the period and the visits planned (the tier's
# where the rule sets one, else the kind's), and the RM visits made in that period.
_VISITS = text(
    f"""
    SELECT c.id, c.kind, t.tier, w.days, w.visits,
        (SELECT count(*) FROM interactions i WHERE i.customer_id = c.id
            AND i.channel = 'rm_visit'
            AND i.occurred_at > CAST(:now AS timestamptz) - make_interval(days => w.days))
            AS made,
        (SELECT max(i.occurred_at) FROM interactions i
            WHERE i.customer_id = c.id AND i.channel = 'rm_visit') AS last_visit
    FROM customers c
    CROSS JOIN LATERAL (SELECT {_TIER} AS tier) t
    CROSS JOIN LATERAL (
        SELECT
            coalesce(
                (SELECT x.n FROM unnest(CAST(:tiers AS text[]), CAST(:tier_days AS int[]))
                    AS x(t, n) WHERE x.t = t.tier),
                CASE WHEN c.kind = 'corporate' THEN CAST(:days_c AS int)
                    ELSE CAST(:days_p AS int) END) AS days,
            coalesce(
                (SELECT x.n FROM unnest(CAST(:visit_tiers AS text[]), CAST(:tier_visits AS int[]))
                    AS x(t, n) WHERE x.t = t.tier),
                CASE WHEN c.kind = 'corporate' THEN CAST(:visits_c AS int)
                    ELSE CAST(:visits_p AS int) END) AS visits
    ) w
    WHERE c.relationship_manager_id IS NOT NULL
      AND c.erased_at IS NULL AND c.merged_into_id IS NULL
      AND w.visits > 0 AND w.days > 0
      AND c.created_at <= CAST(:now AS timestamptz) - make_interval(days => w.days)
      AND (SELECT count(*) FROM interactions i WHERE i.customer_id = c.id
            AND i.channel = 'rm_visit'
            AND i.occurred_at > CAST(:now AS timestamptz) - make_interval(days => w.days))
          < w.visits
    """
)

# Birthdays and relationship anniversaries on the given days (as month * 100 + day), with
# the customer's marketing consent for contact: the RM-visit answer wins over the general
# one, the latest version of each wins, and no answer means no (opt-in).
_OCCASIONS = text(
    f"""
    SELECT c.id, c.kind, c.birth_date, c.created_at::date AS since, {_TIER} AS tier,
           coalesce((SELECT k.granted FROM consents k
                     WHERE k.customer_id = c.id AND k.purpose = 'marketing'
                       AND k.channel IN ('rm_visit', 'all')
                     ORDER BY k.channel = 'rm_visit' DESC, k.version DESC LIMIT 1), false)
               AS allowed
    FROM customers c
    WHERE c.erased_at IS NULL AND c.merged_into_id IS NULL AND (
        (extract(month FROM c.birth_date) * 100 + extract(day FROM c.birth_date))::int
            = ANY(:days)
        OR (extract(month FROM c.created_at) * 100 + extract(day FROM c.created_at))::int
            = ANY(:days))
    """
)

_DECLINING = text(
    f"""
    SELECT c.id, c.kind, c.industry, c.lifecycle_stage, {_TIER} AS tier FROM customers c
    WHERE c.kind = 'corporate' AND c.lifecycle_stage = 'decline' AND c.erased_at IS NULL
    """
)


def _customer(row: Any, id_column: str = "customer_id") -> detector.CustomerFacts:
    """The customer's kind and value tier (the latest scored month's; none before the first
    scoring): thresholds resolve by tier, then kind, then default (domain/detection/rules.py)."""
    return detector.CustomerFacts(customer_id=getattr(row, id_column), kind=row.kind, tier=row.tier)


def _by_tier(days: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """The tier-scoped windows of a threshold, as the arrays the statements join on."""
    scoped = [
        (scope.removeprefix("tier:"), n) for scope, n in days.items() if scope.startswith("tier:")
    ]
    return [t for t, _ in scoped], [n for _, n in scoped]


class SqlDetectionFacts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _rows(self, statement: Any, **params: Any) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).all()

    async def movements(
        self, ids: Sequence[int], lookback_days: Mapping[str, int], window_days: Mapping[str, int]
    ) -> list[detector.MovementFacts]:
        lookback_tiers, lookback_tier_days = _by_tier(lookback_days)
        window_tiers, window_tier_days = _by_tier(window_days)
        rows = await self._rows(
            _MOVEMENTS,
            ids=list(ids),
            deposits=_DEPOSITS,
            lookback_tiers=lookback_tiers,
            lookback_tier_days=lookback_tier_days,
            window_tiers=window_tiers,
            window_tier_days=window_tier_days,
            lookback_p=lookback_days.get("personal", 0),
            lookback_c=lookback_days.get("corporate", 0),
            window_p=window_days.get("personal", 0),
            window_c=window_days.get("corporate", 0),
        )
        return [
            detector.MovementFacts(
                customer=_customer(r),
                movement_id=r.id,
                holding_id=r.holding_id,
                amount=r.amount,
                currency=r.currency,
                direction=MovementDirection(r.direction),
                booked_at=r.booked_at,
                typical_amount=r.avg_amount,
                earlier_movements=r.n,
                deposit_holding=r.deposit_holding,
                deposits_now=r.deposits_now,
                net_outflow=r.net_outflow,
            )
            for r in rows
        ]

    async def closures(self, holding_ids: Sequence[int]) -> list[detector.ClosureFacts]:
        rows = await self._rows(_CLOSURES, ids=list(holding_ids))
        return [
            detector.ClosureFacts(
                customer=_customer(r),
                holding_id=r.id,
                product_code=r.code,
                category=r.category,
                remaining_in_category=r.remaining,
                observed_at=r.observed_at,
            )
            for r in rows
        ]

    async def complaints(self, interaction_ids: Sequence[int]) -> list[detector.ComplaintFacts]:
        rows = await self._rows(_COMPLAINTS, ids=list(interaction_ids))
        return [
            detector.ComplaintFacts(
                customer=_customer(r),
                interaction_id=r.id,
                channel=r.channel,
                occurred_at=r.occurred_at,
            )
            for r in rows
        ]

    async def silent(self, now: datetime, days: Mapping[str, int]) -> list[detector.SilenceFacts]:
        tiers, tier_days = _by_tier(days)
        rows = await self._rows(
            _SILENT,
            now=now,
            days_p=days.get("personal", 0),
            days_c=days.get("corporate", 0),
            tiers=tiers,
            tier_days=tier_days,
        )
        return [
            detector.SilenceFacts(
                customer=_customer(r, "id"),
                last_interaction_at=r.last_at,
                customer_since=r.created_at,
            )
            for r in rows
        ]

    async def missed_visits(
        self, now: datetime, days: Mapping[str, int], visits: Mapping[str, int]
    ) -> list[detector.VisitFacts]:
        tiers, tier_days = _by_tier(days)
        visit_tiers, tier_visits = _by_tier(visits)
        rows = await self._rows(
            _VISITS,
            now=now,
            tiers=tiers,
            tier_days=tier_days,
            days_p=days.get("personal", 0),
            days_c=days.get("corporate", 0),
            visit_tiers=visit_tiers,
            tier_visits=tier_visits,
            visits_p=visits.get("personal", 0),
            visits_c=visits.get("corporate", 0),
        )
        return [
            detector.VisitFacts(
                customer=_customer(r, "id"), visits=r.made, days=r.days, last_visit_at=r.last_visit
            )
            for r in rows
        ]

    async def occasions(
        self, month_days: Sequence[tuple[int, int]]
    ) -> list[detector.OccasionFacts]:
        rows = await self._rows(_OCCASIONS, days=[m * 100 + d for m, d in month_days])
        return [
            detector.OccasionFacts(
                customer=_customer(r, "id"),
                birth_date=r.birth_date,
                customer_since=r.since,
                contact_allowed=r.allowed,
            )
            for r in rows
        ]

    async def declining(self) -> list[detector.IndustryFacts]:
        rows = await self._rows(_DECLINING)
        return [
            detector.IndustryFacts(
                customer=_customer(r, "id"),
                industry=r.industry,
                lifecycle_stage=r.lifecycle_stage,
            )
            for r in rows
        ]
