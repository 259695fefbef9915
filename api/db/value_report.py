"""SqlValueReports: the value report, aggregated in PostgreSQL from the stored scores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.branch_sql import UNITS_CTE
from domain.interactions import Channel
from domain.value.report import (
    PARETO_SHARES,
    ChannelCostShare,
    Migration,
    ParetoPoint,
    ReportScope,
    TierSlice,
    ValueReport,
    share_of,
    suggest_channels,
)
from domain.value.tiers import ValueTier

# Customers in scope: the whole bank, or those whose home branch is the branch or below it,
# and (or) those whose RM is the RM.
_IN_SCOPE = """(
        CAST(:branch AS bigint) IS NULL
        OR {v}.customer_id IN (SELECT id FROM customers
            WHERE home_branch_id IN (SELECT id FROM units))
    ) AND (
        CAST(:rm AS bigint) IS NULL
        OR {v}.customer_id IN (SELECT id FROM customers WHERE relationship_manager_id = :rm)
    )"""
_SCOPE = (
    """
WITH RECURSIVE """
    + UNITS_CTE
    + """, scope AS (
    SELECT v.* FROM customer_values v
    WHERE v.period = :period AND """
    + _IN_SCOPE.format(v="v")
    + """
)
"""
)

_PARETO = (
    _SCOPE
    + """
, ranked AS (
    SELECT contribution, row_number() OVER (ORDER BY contribution DESC, customer_id) AS rn,
        count(*) OVER () AS n
    FROM scope
)
SELECT q.share, count(*) FILTER (WHERE r.rn <= ceil(r.n * q.share)) AS customers,
    coalesce(sum(r.contribution) FILTER (WHERE r.rn <= ceil(r.n * q.share)), 0) AS contribution
FROM ranked r CROSS JOIN unnest(CAST(:shares AS numeric[])) AS q(share)
GROUP BY q.share ORDER BY q.share
"""
)

_TIERS = (
    _SCOPE
    + """
SELECT tier, count(*) AS customers, sum(contribution) AS contribution,
    sum(margin_revenue + fee_revenue) AS revenue, sum(interaction_cost + servicing_cost) AS cost
FROM scope GROUP BY tier
"""
)

_MIGRATION = (
    _SCOPE
    + """
SELECT e.tier AS from_tier, s.tier AS to_tier, count(*) AS customers
FROM scope s JOIN customer_values e ON e.customer_id = s.customer_id AND e.period = :earlier
GROUP BY e.tier, s.tier
"""
)

_MOVED = (
    _SCOPE
    + """
SELECT
    (SELECT count(*) FROM scope s WHERE NOT EXISTS (SELECT 1 FROM customer_values e
        WHERE e.customer_id = s.customer_id AND e.period = :earlier)) AS new_customers,
    (SELECT count(*) FROM customer_values e
        WHERE e.period = :earlier AND """
    + _IN_SCOPE.format(v="e")
    + """
        AND NOT EXISTS (SELECT 1 FROM scope s WHERE s.customer_id = e.customer_id))
        AS departed_customers
"""
)

_NEGATIVE_CHANNELS = (
    _SCOPE
    + """
SELECT l.channel, sum(l.interactions) AS interactions, sum(l.cost) AS cost
FROM scope s JOIN value_channel_lines l
    ON l.period = s.period AND l.customer_id = s.customer_id
WHERE s.tier = 'negative'
GROUP BY l.channel ORDER BY sum(l.cost) DESC, l.channel
"""
)


class SqlValueReports:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def report(
        self, period: date, scope: ReportScope, compared_to: date | None
    ) -> ValueReport | None:
        params: dict[str, Any] = {"period": period, "branch": scope.branch_id, "rm": scope.rm_id}
        # One snapshot for the whole report, so its parts add up even while events rescore.
        async with self._engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            scored = await conn.scalar(
                text("SELECT 1 FROM value_periods WHERE period = :period"), params
            )
            if scored is None:
                return None
            tiers = await self._tiers(conn, params)
            total = sum((t.contribution for t in tiers), Decimal("0"))
            pareto = [
                ParetoPoint(
                    top_share=r.share,
                    customers=r.customers,
                    contribution=r.contribution,
                    share_of_total=share_of(r.contribution, total),
                )
                for r in await conn.execute(text(_PARETO), params | {"shares": list(PARETO_SHARES)})
            ]
            migration: list[Migration] = []
            new = departed = 0
            if compared_to is not None:
                earlier = params | {"earlier": compared_to}
                migration = [
                    Migration(ValueTier(r.from_tier), ValueTier(r.to_tier), r.customers)
                    for r in await conn.execute(text(_MIGRATION), earlier)
                ]
                moved = (await conn.execute(text(_MOVED), earlier)).one()
                new, departed = moved.new_customers, moved.departed_customers
            lines = (await conn.execute(text(_NEGATIVE_CHANNELS), params)).all()
            unit_costs = {
                Channel(r.channel): r.unit_cost
                for r in await conn.execute(text("SELECT channel, unit_cost FROM channel_costs"))
            }
        spent = sum((r.cost for r in lines), Decimal("0"))
        negative = tuple(
            ChannelCostShare(
                channel=Channel(r.channel),
                interactions=int(r.interactions),
                cost=r.cost,
                share=share_of(r.cost, spent) or Decimal("0"),
            )
            for r in lines
        )
        order = list(ValueTier)
        return ValueReport(
            period=period,
            branch_id=scope.branch_id,
            rm_id=scope.rm_id,
            customers=sum(t.customers for t in tiers),
            contribution=total,
            pareto=tuple(pareto),
            tiers=tuple(sorted(tiers, key=lambda t: order.index(t.tier))),
            compared_to=compared_to,
            migration=tuple(
                sorted(migration, key=lambda m: (order.index(m.from_tier), order.index(m.to_tier)))
            ),
            new_customers=new,
            departed_customers=departed,
            negative_channels=negative,
            suggestions=suggest_channels(negative, unit_costs),
        )

    @staticmethod
    async def _tiers(conn: AsyncConnection, params: dict[str, Any]) -> list[TierSlice]:
        found = {
            ValueTier(r.tier): TierSlice(
                ValueTier(r.tier), r.customers, r.contribution, r.revenue, r.cost
            )
            for r in await conn.execute(text(_TIERS), params)
        }
        zero = Decimal("0")
        return [found.get(t, TierSlice(t, 0, zero, zero, zero)) for t in ValueTier]
