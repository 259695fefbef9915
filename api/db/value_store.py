"""SqlValueStore: contribution and tiers, scored set-based in PostgreSQL.

A full scoring is a handful of statements over the whole bank in one transaction: the
product and channel lines (INSERT … SELECT), the per-customer totals into a temporary table,
the cut-off at rank ceil(customers × share), and the values with their tier. Rescoring a few
customers after an event runs the same statements narrowed to those customers and compares
with the cut-off stored when the period was fully scored. The tier CASE below is the SQL form
of `domain.value.tiers.classify`; a test checks they agree customer by customer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.errors import NotFound
from domain.interactions import Channel
from domain.products import LOAN_CATEGORIES, ProductCategory
from domain.value.contribution import (
    ChannelLine,
    CustomerValue,
    ProductLine,
    ScoreSummary,
    shift_period,
)
from domain.value.rates import CategoryRate, ChannelCost, ProductRate, RateBook, RateChange
from domain.value.tiers import Cutoff, ValueTier, cutoff_rank

_LOANS = ", ".join(f"'{c.value}'" for c in sorted(LOAN_CATEGORIES))

# Per holding open during [start, end): the time-weighted average balance, rebuilt from the
# current balance (the holdings feed) and the movements booked since the period began. For
# loans and cards the balance is what the customer owes, so a credit (a repayment) lowers it.
_PRODUCT_LINES = f"""
INSERT INTO value_product_lines (period, customer_id, product_id, holdings, average_balance,
    margin_rate, margin_revenue, fee_revenue, servicing_cost)
WITH moves AS (
    SELECT m.holding_id,
        sum(CASE WHEN m.direction = 'credit' THEN m.amount ELSE -m.amount END)
            FILTER (WHERE m.booked_at >= :end_at) AS net_after,
        sum(CASE WHEN m.direction = 'credit' THEN m.amount ELSE -m.amount END
            * extract(epoch FROM m.booked_at - :start_at) / CAST(:seconds AS numeric))
            FILTER (WHERE m.booked_at < :end_at) AS weighted,
        sum(m.amount) FILTER (
            WHERE m.booked_at < :end_at AND m.counterparty_kind = 'bank_fee'
            AND m.direction = 'debit') AS fees
    FROM fund_movements m
    WHERE m.booked_at >= :start_at {{movement_filter}}
    GROUP BY m.holding_id
), held AS (
    SELECT h.customer_id, h.product_id,
        CASE WHEN p.category IN ({_LOANS}) THEN -1 ELSE 1 END AS sign,
        h.balance, mv.net_after, mv.weighted, mv.fees
    FROM holdings h
    JOIN products p ON p.id = h.product_id
    LEFT JOIN moves mv ON mv.holding_id = h.id
    WHERE h.opened_on < :end_day AND (h.closed_on IS NULL OR h.closed_on >= :start_day)
        {{holding_filter}}
), averaged AS (
    SELECT customer_id, product_id, count(*) AS holdings,
        sum(GREATEST(0, balance - sign * coalesce(net_after, 0) - sign * coalesce(weighted, 0)))
            AS average_balance,
        coalesce(sum(fees), 0) AS fee_revenue
    FROM held
    GROUP BY customer_id, product_id
)
SELECT CAST(:period AS date), a.customer_id, a.product_id, a.holdings,
    round(a.average_balance, 2), r.margin_rate,
    round(round(a.average_balance, 2) * r.margin_rate / 12, 2), a.fee_revenue,
    a.holdings * r.servicing_cost
FROM averaged a
JOIN (
    SELECT p.id AS product_id, coalesce(pr.margin_rate, cr.margin_rate) AS margin_rate,
        coalesce(pr.servicing_cost, cr.servicing_cost) AS servicing_cost
    FROM products p
    JOIN category_value_rates cr ON cr.category = p.category
    LEFT JOIN product_value_rates pr ON pr.product_id = p.id
) r ON r.product_id = a.product_id
"""

_CHANNEL_LINES = """
INSERT INTO value_channel_lines (period, customer_id, channel, interactions, recorded_cost,
    defaulted, unit_cost, cost)
SELECT CAST(:period AS date), i.customer_id, i.channel, count(*), coalesce(sum(i.cost), 0),
    count(*) FILTER (WHERE i.cost IS NULL), cc.unit_cost,
    coalesce(sum(i.cost), 0) + count(*) FILTER (WHERE i.cost IS NULL) * cc.unit_cost
FROM interactions i
JOIN channel_costs cc ON cc.channel = i.channel
WHERE i.occurred_at >= :start_at AND i.occurred_at < :end_at {interaction_filter}
GROUP BY i.customer_id, i.channel, cc.unit_cost
"""

# Customers who existed during the period, with the sums of their lines.
_TOTALS = """
CREATE TEMPORARY TABLE value_totals ON COMMIT DROP AS
WITH p AS (
    SELECT customer_id, sum(margin_revenue) AS mr, sum(fee_revenue) AS fr,
        sum(servicing_cost) AS sc
    FROM value_product_lines WHERE period = :period {line_filter}
    GROUP BY customer_id
), ch AS (
    SELECT customer_id, sum(cost) AS ic
    FROM value_channel_lines WHERE period = :period {line_filter}
    GROUP BY customer_id
)
SELECT c.id AS customer_id, coalesce(p.mr, 0) AS mr, coalesce(p.fr, 0) AS fr,
    coalesce(ch.ic, 0) AS ic, coalesce(p.sc, 0) AS sc,
    coalesce(p.mr, 0) + coalesce(p.fr, 0) - coalesce(ch.ic, 0) - coalesce(p.sc, 0)
        AS contribution,
    (c.kind = 'corporate' AND c.lifecycle_stage = 'growth') AS growth
FROM customers c
LEFT JOIN p ON p.customer_id = c.id
LEFT JOIN ch ON ch.customer_id = c.id
WHERE c.created_at < :end_at AND c.merged_into_id IS NULL {customer_filter}
"""

_CUTOFF = """
SELECT contribution FROM value_totals
ORDER BY contribution DESC OFFSET CAST(:rank AS bigint) - 1 LIMIT 1
"""

_VALUES = """
INSERT INTO customer_values (period, customer_id, margin_revenue, fee_revenue,
    interaction_cost, servicing_cost, contribution, previous, prior, corporate_growth, tier,
    scored_at)
SELECT CAST(:period AS date), t.customer_id, t.mr, t.fr, t.ic, t.sc, t.contribution,
    prev.contribution, prior.contribution, t.growth,
    CASE
        WHEN t.contribution < 0 THEN 'negative'
        WHEN t.contribution > 0 AND t.contribution >= CAST(:cutoff AS numeric) THEN 'high'
        WHEN (prior.contribution < prev.contribution AND prev.contribution < t.contribution)
            OR t.growth THEN 'potential'
        ELSE 'low'
    END,
    CAST(:now AS timestamptz)
FROM value_totals t
LEFT JOIN customer_values prev
    ON prev.period = CAST(:previous AS date) AND prev.customer_id = t.customer_id
LEFT JOIN customer_values prior
    ON prior.period = CAST(:prior AS date) AND prior.customer_id = t.customer_id
"""

# Per peer group (customer kind × tier), how many customers hold each product: a snapshot
# of the full scoring that next-best-product offers are ranked by.
_PEER_PRODUCTS = """
INSERT INTO value_peer_products (period, kind, tier, product_id, holders, peers)
WITH peers AS (
    SELECT v.customer_id, c.kind, v.tier
    FROM customer_values v JOIN customers c ON c.id = v.customer_id
    WHERE v.period = :period
), sizes AS (
    SELECT kind, tier, count(*) AS n FROM peers GROUP BY kind, tier
), held AS (
    SELECT DISTINCT h.customer_id, h.product_id FROM holdings h WHERE h.status <> 'closed'
)
SELECT CAST(:period AS date), pr.kind, pr.tier, held.product_id, count(*), s.n
FROM peers pr
JOIN held ON held.customer_id = pr.customer_id
JOIN sizes s ON s.kind = pr.kind AND s.tier = pr.tier
GROUP BY pr.kind, pr.tier, held.product_id, s.n
"""

_TABLES = ("value_product_lines", "value_channel_lines", "customer_values")


def _bounds(period: date) -> dict[str, Any]:
    end = shift_period(period, 1)
    start_at = datetime.combine(period, clock(), UTC)
    end_at = datetime.combine(end, clock(), UTC)
    return {
        "period": period,
        "start_day": period,
        "end_day": end,
        "start_at": start_at,
        "end_at": end_at,
        "seconds": (end_at - start_at).total_seconds(),
    }


def _value(row: Any) -> CustomerValue:
    return CustomerValue(
        period=row.period,
        customer_id=row.customer_id,
        margin_revenue=row.margin_revenue,
        fee_revenue=row.fee_revenue,
        interaction_cost=row.interaction_cost,
        servicing_cost=row.servicing_cost,
        contribution=row.contribution,
        previous=row.previous,
        prior=row.prior,
        corporate_growth=row.corporate_growth,
        tier=ValueTier(row.tier),
        scored_at=row.scored_at,
    )


class SqlValueStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _lines_and_totals(
        self, conn: AsyncConnection, period: date, ids: Sequence[int] | None
    ) -> dict[str, Any]:
        params = _bounds(period)
        narrow = ids is not None
        if narrow:
            params["ids"] = list(ids or ())
            for table in _TABLES:
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE period = :period AND customer_id = ANY(:ids)"),
                    params,
                )
        else:
            for table in _TABLES:
                await conn.execute(text(f"DELETE FROM {table} WHERE period = :period"), params)

        def only(column: str) -> str:
            return f"AND {column} = ANY(:ids)" if narrow else ""

        await conn.execute(
            text(
                _PRODUCT_LINES.format(
                    movement_filter=only("m.customer_id"), holding_filter=only("h.customer_id")
                )
            ),
            params,
        )
        await conn.execute(
            text(_CHANNEL_LINES.format(interaction_filter=only("i.customer_id"))), params
        )
        await conn.execute(
            text(_TOTALS.format(line_filter=only("customer_id"), customer_filter=only("c.id"))),
            params,
        )
        return params

    async def _write_values(
        self, conn: AsyncConnection, params: dict[str, Any], cutoff: Decimal | None
    ) -> None:
        period: date = params["period"]
        await conn.execute(
            text(_VALUES),
            {
                "period": period,
                "cutoff": cutoff,
                "previous": shift_period(period, -1),
                "prior": shift_period(period, -2),
                "now": datetime.now(UTC),
            },
        )

    @staticmethod
    async def _lock(conn: AsyncConnection, period: date) -> None:
        # One scoring of a period at a time: a full run and an event's rescoring would
        # otherwise delete and insert the same rows.
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"value:{period.isoformat()}"},
        )

    async def score(self, period: date, high_share: Decimal) -> ScoreSummary:
        started = time.perf_counter()
        async with self._engine.begin() as conn:
            # A batch job: the service's statement timeout (seconds) is not meant for it.
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await self._lock(conn, period)
            await conn.execute(text("SET LOCAL work_mem = '256MB'"))
            params = await self._lines_and_totals(conn, period, None)
            customers = (await conn.execute(text("SELECT count(*) FROM value_totals"))).scalar_one()
            rank = cutoff_rank(customers, high_share)
            cutoff = (
                (await conn.execute(text(_CUTOFF), {"rank": rank})).scalar_one_or_none()
                if rank
                else None
            )
            await self._write_values(conn, params, cutoff)
            await conn.execute(
                text(
                    "INSERT INTO value_periods (period, customers, high_share, high_cutoff, "
                    "scored_at) VALUES (:period, :customers, :share, :cutoff, now()) "
                    "ON CONFLICT (period) DO UPDATE SET customers = excluded.customers, "
                    "high_share = excluded.high_share, high_cutoff = excluded.high_cutoff, "
                    "scored_at = excluded.scored_at"
                ),
                {"period": period, "customers": customers, "share": high_share, "cutoff": cutoff},
            )
            await conn.execute(
                text("DELETE FROM value_peer_products WHERE period = :period"), {"period": period}
            )
            await conn.execute(text(_PEER_PRODUCTS), {"period": period})
            tiers = await self._tier_counts(conn, period)
        return ScoreSummary(
            period=period,
            customers=customers,
            tiers=tiers,
            cutoff=cutoff,
            seconds=time.perf_counter() - started,
        )

    async def rescore(self, period: date, customer_ids: Sequence[int]) -> int:
        ids = sorted(set(customer_ids))
        if not ids:
            return 0
        async with self._engine.begin() as conn:
            # Waits for a full scoring of the month to commit (about a minute for a million
            # customers) rather than rescoring from data that run has not seen.
            await conn.execute(text("SET LOCAL statement_timeout = '15min'"))
            await self._lock(conn, period)
            stored = (await self._cutoffs(conn, [period])).get(period)
            if stored is None:
                return 0  # the period was never scored: its first full run will include them
            params = await self._lines_and_totals(conn, period, ids)
            await self._write_values(conn, params, stored.contribution)
            return int((await conn.execute(text("SELECT count(*) FROM value_totals"))).scalar_one())

    @staticmethod
    async def _tier_counts(conn: AsyncConnection, period: date) -> dict[ValueTier, int]:
        rows = await conn.execute(
            text(
                "SELECT tier, count(*) AS n FROM customer_values WHERE period = :period "
                "GROUP BY tier"
            ),
            {"period": period},
        )
        counts = dict.fromkeys(ValueTier, 0)
        counts.update({ValueTier(r.tier): r.n for r in rows})
        return counts

    @staticmethod
    async def _cutoffs(conn: AsyncConnection, periods: Sequence[date]) -> dict[date, Cutoff]:
        rows = await conn.execute(
            text("SELECT * FROM value_periods WHERE period = ANY(:periods)"),
            {"periods": list(periods)},
        )
        return {
            r.period: Cutoff(
                period=r.period,
                customers=r.customers,
                high_share=r.high_share,
                contribution=r.high_cutoff,
            )
            for r in rows
        }

    async def cutoff(self, period: date) -> Cutoff | None:
        return (await self.cutoffs([period])).get(period)

    async def values(
        self, customer_ids: Sequence[int], period: date | None
    ) -> dict[int, CustomerValue]:
        async with self._engine.connect() as conn:
            if period is None:
                rows = await conn.execute(
                    text(
                        "SELECT DISTINCT ON (customer_id) * FROM customer_values "
                        "WHERE customer_id = ANY(:ids) ORDER BY customer_id, period DESC"
                    ),
                    {"ids": list(customer_ids)},
                )
            else:
                rows = await conn.execute(
                    text(
                        "SELECT * FROM customer_values "
                        "WHERE period = :period AND customer_id = ANY(:ids)"
                    ),
                    {"ids": list(customer_ids), "period": period},
                )
            return {r.customer_id: _value(r) for r in rows}

    async def product_lines(self, customer_id: int, period: date) -> list[ProductLine]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM value_product_lines WHERE period = :period "
                    "AND customer_id = :customer ORDER BY product_id"
                ),
                {"period": period, "customer": customer_id},
            )
            return [
                ProductLine(
                    product_id=r.product_id,
                    holdings=r.holdings,
                    average_balance=r.average_balance,
                    margin_rate=r.margin_rate,
                    margin_revenue=r.margin_revenue,
                    fee_revenue=r.fee_revenue,
                    servicing_cost=r.servicing_cost,
                )
                for r in rows
            ]

    async def channel_lines(self, customer_id: int, period: date) -> list[ChannelLine]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM value_channel_lines WHERE period = :period "
                    "AND customer_id = :customer ORDER BY channel"
                ),
                {"period": period, "customer": customer_id},
            )
            return [
                ChannelLine(
                    channel=Channel(r.channel),
                    interactions=r.interactions,
                    recorded_cost=r.recorded_cost,
                    defaulted=r.defaulted,
                    unit_cost=r.unit_cost,
                    cost=r.cost,
                )
                for r in rows
            ]

    async def cutoffs(self, periods: Sequence[date]) -> dict[date, Cutoff]:
        async with self._engine.connect() as conn:
            return await self._cutoffs(conn, periods)

    async def rates(self) -> RateBook:
        async with self._engine.connect() as conn:
            return await self._rates(conn)

    @staticmethod
    async def _rates(conn: AsyncConnection) -> RateBook:
        categories = await conn.execute(text("SELECT * FROM category_value_rates"))
        products = await conn.execute(text("SELECT * FROM product_value_rates ORDER BY product_id"))
        channels = await conn.execute(text("SELECT * FROM channel_costs"))
        by_category = {ProductCategory(r.category): r for r in categories}
        by_channel = {Channel(r.channel): r for r in channels}
        return RateBook(
            categories=tuple(
                CategoryRate(c, by_category[c].margin_rate, by_category[c].servicing_cost)
                for c in ProductCategory
                if c in by_category
            ),
            products=tuple(
                ProductRate(r.product_id, r.margin_rate, r.servicing_cost) for r in products
            ),
            channels=tuple(
                ChannelCost(c, by_channel[c].unit_cost) for c in Channel if c in by_channel
            ),
        )

    async def set_rate(self, change: RateChange, actor: str) -> RateBook:
        async with self._engine.begin() as conn:
            if change.channel is not None:
                await conn.execute(
                    text(
                        "INSERT INTO channel_costs (channel, unit_cost, updated_by) "
                        "VALUES (:key, :cost, :actor) ON CONFLICT (channel) DO UPDATE SET "
                        "unit_cost = excluded.unit_cost, updated_by = excluded.updated_by, "
                        "updated_at = now()"
                    ),
                    {"key": change.channel.value, "cost": change.unit_cost, "actor": actor},
                )
            elif change.category is not None:
                await conn.execute(
                    text(
                        "INSERT INTO category_value_rates (category, margin_rate, servicing_cost, "
                        "updated_by) VALUES (:key, :margin, :servicing, :actor) "
                        "ON CONFLICT (category) DO UPDATE SET margin_rate = excluded.margin_rate, "
                        "servicing_cost = excluded.servicing_cost, "
                        "updated_by = excluded.updated_by, updated_at = now()"
                    ),
                    {
                        "key": change.category.value,
                        "margin": change.margin_rate,
                        "servicing": change.servicing_cost,
                        "actor": actor,
                    },
                )
            else:
                exists = await conn.scalar(
                    text("SELECT 1 FROM products WHERE id = :id"), {"id": change.product_id}
                )
                if exists is None:
                    raise NotFound("Product", str(change.product_id))
                await conn.execute(
                    text(
                        "INSERT INTO product_value_rates (product_id, margin_rate, servicing_cost, "
                        "updated_by) VALUES (:id, :margin, :servicing, :actor) "
                        "ON CONFLICT (product_id) DO UPDATE SET "
                        "margin_rate = excluded.margin_rate, "
                        "servicing_cost = excluded.servicing_cost, "
                        "updated_by = excluded.updated_by, updated_at = now()"
                    ),
                    {
                        "id": change.product_id,
                        "margin": change.margin_rate,
                        "servicing": change.servicing_cost,
                        "actor": actor,
                    },
                )
            return await self._rates(conn)
