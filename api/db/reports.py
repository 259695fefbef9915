"""SqlReports: the management reports (domain/reports), each one set-based statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.branch_sql import UNITS_CTE, sql_list
from domain.products import DEPOSIT_CATEGORIES, LOAN_CATEGORIES
from domain.reports.groups import CorporateGroup, GroupScope, GroupTotals
from domain.reports.league import LeagueRow
from domain.reports.satisfaction import SatisfactionGrouping, SatisfactionQuery, SatisfactionRow
from domain.reports.structure import MonthStructure
from domain.value.contribution import shift_period
from domain.value.tiers import ValueTier

_LEAGUE = f"""
WITH RECURSIVE {UNITS_CTE},
rms AS (
    SELECT m.id FROM relationship_managers m
    WHERE m.active AND (CAST(:branch AS bigint) IS NULL OR m.branch_id IN (SELECT id FROM units))
),
book AS (
    SELECT c.relationship_manager_id AS rm, count(*) AS customers
    FROM customers c
    WHERE c.relationship_manager_id IN (SELECT id FROM rms) AND c.erased_at IS NULL
    GROUP BY 1
),
earned AS (
    SELECT c.relationship_manager_id AS rm, sum(v.contribution) AS contribution,
        sum(v.margin_revenue + v.fee_revenue) AS revenue, sum(v.fee_revenue) AS fees
    FROM customer_values v JOIN customers c ON c.id = v.customer_id
    WHERE v.period = :period AND c.relationship_manager_id IN (SELECT id FROM rms)
    GROUP BY 1
),
balances AS (
    SELECT c.relationship_manager_id AS rm,
        sum(h.balance) FILTER (WHERE p.category IN ({sql_list(DEPOSIT_CATEGORIES)})) AS deposits,
        sum(h.balance) FILTER (WHERE p.category IN ({sql_list(LOAN_CATEGORIES)})) AS loans
    FROM customers c
    JOIN holdings h ON h.customer_id = c.id AND h.status <> 'closed' AND h.currency = 'CNY'
    JOIN products p ON p.id = h.product_id
    WHERE c.relationship_manager_id IN (SELECT id FROM rms)
    GROUP BY 1
),
visits AS (
    SELECT c.relationship_manager_id AS rm, count(*) AS visits
    FROM interactions i JOIN customers c ON c.id = i.customer_id
    WHERE i.channel = 'rm_visit' AND i.occurred_at >= :start AND i.occurred_at < :end
        AND c.relationship_manager_id IN (SELECT id FROM rms)
    GROUP BY 1
),
overdue AS (
    SELECT CAST(t.owner_ref AS bigint) AS rm, count(*) AS overdue
    FROM tasks t
    WHERE t.owner_kind = 'rm' AND t.status = 'open' AND t.due_at < now()
        AND t.owner_ref IN (SELECT CAST(id AS text) FROM rms)
    GROUP BY 1
)
SELECT r.id AS rm_id,
    rank() OVER (ORDER BY coalesce(e.contribution, 0) DESC) AS rank,
    coalesce(b.customers, 0) AS customers,
    coalesce(e.contribution, 0) AS contribution,
    coalesce(e.revenue, 0) AS revenue,
    coalesce(e.fees, 0) AS fees,
    coalesce(m.deposits, 0) AS deposits,
    coalesce(m.loans, 0) AS loans,
    coalesce(v.visits, 0) AS visits,
    coalesce(o.overdue, 0) AS overdue
FROM rms r
LEFT JOIN book b ON b.rm = r.id
LEFT JOIN earned e ON e.rm = r.id
LEFT JOIN balances m ON m.rm = r.id
LEFT JOIN visits v ON v.rm = r.id
LEFT JOIN overdue o ON o.rm = r.id
ORDER BY rank, r.id
LIMIT :first OFFSET :offset
"""

_GROUP_KEY = {
    SatisfactionGrouping.STAFF: "i.staff_code",
    SatisfactionGrouping.BRANCH: "CAST(i.branch_id AS text)",
    SatisfactionGrouping.CHANNEL: "i.channel",
}


def _satisfaction(grouping: SatisfactionGrouping) -> str:
    key = _GROUP_KEY[grouping]  # one of three constants, never input
    return f"""
WITH RECURSIVE {UNITS_CTE}
SELECT {key} AS key, count(*) AS interactions, count(i.satisfaction) AS rated,
    round(avg(i.satisfaction), 2) AS average,
    count(*) FILTER (WHERE i.satisfaction >= 4) AS satisfied,
    count(*) FILTER (WHERE i.satisfaction <= 2) AS dissatisfied
FROM interactions i
WHERE i.occurred_at >= :since AND i.occurred_at < :until AND {key} IS NOT NULL
    AND (CAST(:branch AS bigint) IS NULL OR i.branch_id IN (SELECT id FROM units))
GROUP BY 1
ORDER BY count(*) DESC, 1
"""


# A page of groups: parents (corporate, no parent, at least one subsidiary) in scope, then
# every company below each; a chain that loops back is cut (CYCLE), never followed for ever.
_GROUP_TREE = f"""
WITH RECURSIVE {UNITS_CTE},
roots AS (
    SELECT c.id FROM customers c
    WHERE c.kind = 'corporate' AND c.parent_id IS NULL AND c.erased_at IS NULL
        AND c.merged_into_id IS NULL AND c.id > :after
        AND EXISTS (SELECT 1 FROM customers s WHERE s.parent_id = c.id AND s.erased_at IS NULL)
        AND (CAST(:rm AS bigint) IS NULL OR c.relationship_manager_id = :rm)
        AND (CAST(:branch AS bigint) IS NULL OR c.home_branch_id IN (SELECT id FROM units))
    ORDER BY c.id LIMIT :first
),
walk AS (
    SELECT id AS root, id AS member FROM roots
    UNION ALL
    SELECT w.root, s.id FROM customers s JOIN walk w ON s.parent_id = w.member
    WHERE s.erased_at IS NULL AND s.merged_into_id IS NULL
) CYCLE member SET looped USING path,
tree AS (SELECT DISTINCT root, member FROM walk WHERE NOT looped)
"""

# A page of groups: parents (corporate, no parent, at least one subsidiary) in scope, then
# every company below each; a chain that loops back is cut (CYCLE), never followed for ever.
_GROUP_MEMBERS = (
    _GROUP_TREE
    + """
SELECT root, array_agg(member ORDER BY member) AS ids FROM tree GROUP BY root ORDER BY root
"""
)

_GROUP_TOTALS = (
    _GROUP_TREE
    + f"""
SELECT t.root, h.currency,
    coalesce(sum(h.balance) FILTER (WHERE p.category IN ({sql_list(DEPOSIT_CATEGORIES)})), 0)
        AS deposits,
    coalesce(sum(h.balance) FILTER (WHERE p.category IN ({sql_list(LOAN_CATEGORIES)})), 0) AS loans,
    coalesce(sum(greatest(h.balance, coalesce(h.credit_limit, 0)))
        FILTER (WHERE p.category IN ({sql_list(LOAN_CATEGORIES)})), 0) AS exposure
FROM tree t
JOIN holdings h ON h.customer_id = t.member AND h.status <> 'closed'
JOIN products p ON p.id = h.product_id
GROUP BY t.root, h.currency ORDER BY t.root, h.currency
"""
)


# Scores of the months asked and the month before the first, for customers in scope; the
# months compared are consecutive scored months (value_periods).
_SCORED = f"""
WITH RECURSIVE {UNITS_CTE},
months AS (
    SELECT period, CAST(period - interval '1 month' AS date) AS prev,
        EXISTS (SELECT 1 FROM value_periods p
            WHERE p.period = CAST(v.period - interval '1 month' AS date)) AS comparable
    FROM value_periods v WHERE v.period BETWEEN :first AND :last
),
scoped AS (
    SELECT v.period, v.customer_id, v.tier FROM customer_values v
    WHERE v.period BETWEEN CAST(CAST(:first AS date) - interval '1 month' AS date) AND :last
        AND (CAST(:branch AS bigint) IS NULL OR v.customer_id IN (
            SELECT id FROM customers WHERE home_branch_id IN (SELECT id FROM units)))
)
"""

_STRUCTURE_TIERS = (
    _SCORED
    + """
SELECT m.period, m.comparable, s.tier, count(s.customer_id) AS customers
FROM months m LEFT JOIN scoped s ON s.period = m.period
GROUP BY 1, 2, 3 ORDER BY 1
"""
)

_STRUCTURE_MOVES = (
    _SCORED
    + """
SELECT m.period, p.tier AS from_tier, s.tier AS to_tier, count(*) AS customers
FROM months m
JOIN scoped s ON s.period = m.period
JOIN scoped p ON p.period = m.prev AND p.customer_id = s.customer_id
WHERE m.comparable AND p.tier <> s.tier
GROUP BY 1, 2, 3
"""
)

_STRUCTURE_FLOW = (
    _SCORED
    + """
SELECT m.period,
    (SELECT count(*) FROM scoped s WHERE s.period = m.period AND NOT EXISTS (
        SELECT 1 FROM scoped p WHERE p.period = m.prev AND p.customer_id = s.customer_id))
        AS new_customers,
    (SELECT count(*) FROM scoped p WHERE p.period = m.prev AND NOT EXISTS (
        SELECT 1 FROM scoped s WHERE s.period = m.period AND s.customer_id = p.customer_id))
        AS lost_customers
FROM months m WHERE m.comparable
"""
)


def _month_after(period: date) -> date:
    return shift_period(period, 1)


def _month_before(period: date) -> date:
    return shift_period(period, -1)


class SqlReports:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def league(
        self, period: date, branch_id: int | None, first: int, offset: int
    ) -> Sequence[LeagueRow]:
        params = {
            "period": period,
            "branch": branch_id,
            "start": period,
            "end": _month_after(period),
            "first": first,
            "offset": offset,
        }
        async with self._engine.connect() as conn:
            rows = (await conn.execute(text(_LEAGUE), params)).all()
        return [
            LeagueRow(
                rank=r.rank,
                rm_id=r.rm_id,
                customers=r.customers,
                contribution=Decimal(r.contribution),
                revenue=Decimal(r.revenue),
                fees=Decimal(r.fees),
                deposits_cny=Decimal(r.deposits),
                loans_cny=Decimal(r.loans),
                visits=r.visits,
                overdue_tasks=r.overdue,
            )
            for r in rows
        ]

    async def groups(
        self, scope: GroupScope, first: int, after_parent: int | None
    ) -> Sequence[CorporateGroup]:
        params = {
            "rm": scope.rm_id,
            "branch": scope.branch_id,
            "after": after_parent or 0,
            "first": first,
        }
        # One snapshot for both statements, so the totals are those of the members listed.
        async with self._engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            members = (await conn.execute(text(_GROUP_MEMBERS), params)).all()
            sums = (await conn.execute(text(_GROUP_TOTALS), params)).all()
        totals: dict[int, list[GroupTotals]] = {}
        for r in sums:
            totals.setdefault(r.root, []).append(
                GroupTotals(
                    currency=r.currency, deposits=r.deposits, loans=r.loans, exposure=r.exposure
                )
            )
        return [
            CorporateGroup(
                parent_id=r.root, member_ids=tuple(r.ids), totals=tuple(totals.get(r.root, ()))
            )
            for r in members
        ]

    async def structure(
        self, first: date, last: date, branch_id: int | None
    ) -> Sequence[MonthStructure]:
        params = {"first": first, "last": last, "branch": branch_id}
        # One snapshot: the months' parts add up while a rescore runs.
        async with self._engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            tiers = (await conn.execute(text(_STRUCTURE_TIERS), params)).all()
            moves = (await conn.execute(text(_STRUCTURE_MOVES), params)).all()
            flows = {r.period: r for r in await conn.execute(text(_STRUCTURE_FLOW), params)}
        months: dict[date, dict[ValueTier, int]] = {}
        comparable: dict[date, bool] = {}
        for r in tiers:
            mix = months.setdefault(r.period, dict.fromkeys(ValueTier, 0))
            comparable[r.period] = r.comparable
            if r.tier is not None:
                mix[ValueTier(r.tier)] = r.customers
        migration: dict[date, dict[tuple[ValueTier, ValueTier], int]] = {}
        for r in moves:
            pair = (ValueTier(r.from_tier), ValueTier(r.to_tier))
            migration.setdefault(r.period, {})[pair] = r.customers
        return [
            MonthStructure(
                period=period,
                tiers=mix,
                compared_to=_month_before(period) if comparable[period] else None,
                new_customers=flows[period].new_customers if period in flows else None,
                lost_customers=flows[period].lost_customers if period in flows else None,
                migration=migration.get(period, {}),
            )
            for period, mix in sorted(months.items())
        ]

    async def satisfaction(self, query: SatisfactionQuery) -> Sequence[SatisfactionRow]:
        params = {"since": query.since, "until": query.until, "branch": query.branch_id}
        async with self._engine.connect() as conn:
            rows = (await conn.execute(text(_satisfaction(query.grouping)), params)).all()
        return [
            SatisfactionRow(
                key=r.key,
                interactions=r.interactions,
                rated=r.rated,
                average=None if r.average is None else Decimal(r.average),
                satisfied=r.satisfied,
                dissatisfied=r.dissatisfied,
            )
            for r in rows
        ]
