"""SqlOwnershipReader: portfolios, RM history and teams, assignment violations, conflicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.branch_sql import sql_list
from api.db.rows import assignment_from_row, claim_from_row
from domain.assignment import (
    OwnershipClaim,
    OwnershipConflict,
    PortfolioSummary,
    RmAssignment,
    TeamMember,
    Violation,
    ViolationKind,
)
from domain.organisation import RmGrade
from domain.products import (
    DEPOSIT_CATEGORIES,
    INVESTMENT_CATEGORIES,
    LOAN_CATEGORIES,
    CurrencyTotals,
)
from domain.value.tiers import ValueTier

# The same sums as `summarize_holdings`, over a whole portfolio at once.
_TOTALS = f"""
SELECT h.currency,
    coalesce(sum(h.balance) FILTER (WHERE p.category IN ({sql_list(DEPOSIT_CATEGORIES)})), 0) AS deposits,
    coalesce(sum(h.balance) FILTER (WHERE p.category IN ({sql_list(LOAN_CATEGORIES)})), 0) AS loans,
    coalesce(sum(h.balance) FILTER (
        WHERE p.category IN ({sql_list(DEPOSIT_CATEGORIES | INVESTMENT_CATEGORIES)})), 0) AS aum
FROM customers c
JOIN holdings h ON h.customer_id = c.id AND h.status <> 'closed'
JOIN products p ON p.id = h.product_id
WHERE c.relationship_manager_id = :rm
GROUP BY h.currency ORDER BY h.currency
"""

_COUNTS = """
SELECT
    (SELECT count(*) FROM customers WHERE relationship_manager_id = :rm) AS customers,
    (SELECT count(*) FROM alerts a JOIN customers c ON c.id = a.customer_id
        WHERE c.relationship_manager_id = :rm AND a.status IN ('open', 'acknowledged'))
        AS open_alerts,
    (SELECT count(*) FROM tasks t JOIN customers c ON c.id = t.customer_id
        WHERE c.relationship_manager_id = :rm AND t.status = 'open') AS open_tasks,
    (SELECT max(period) FROM value_periods) AS period
"""

_TIERS = """
SELECT v.tier, count(*) AS n, sum(v.contribution) AS contribution
FROM customer_values v JOIN customers c ON c.id = v.customer_id
WHERE v.period = :period AND c.relationship_manager_id = :rm
GROUP BY v.tier
"""

# High-value customers (latest scored month) without an RM of the required grade, and any
# customer still owned by an RM who is no longer active.
_VIOLATIONS = """
SELECT c.id AS customer_id, v.tier, c.relationship_manager_id AS rm_id, m.grade, m.active,
    CASE
        WHEN m.id IS NOT NULL AND NOT m.active THEN 'rm_inactive'
        WHEN m.id IS NULL THEN 'no_rm'
        ELSE 'grade_too_low'
    END AS kind
FROM customers c
LEFT JOIN relationship_managers m ON m.id = c.relationship_manager_id
LEFT JOIN customer_values v
    ON v.customer_id = c.id AND v.period = (SELECT max(period) FROM value_periods)
WHERE c.id > :after AND (
    (m.id IS NOT NULL AND NOT m.active)
    OR (v.tier = 'high' AND (m.id IS NULL OR m.grade < :grade))
)
ORDER BY c.id LIMIT :first
"""

# A conflict: an open claim by a branch other than the home branch.
_CONFLICTS = """
SELECT c.id AS customer_id, c.home_branch_id
FROM customers c
WHERE c.id > :after AND EXISTS (
    SELECT 1 FROM ownership_claims o WHERE o.customer_id = c.id AND o.status = 'open'
        AND o.branch_id IS DISTINCT FROM c.home_branch_id)
ORDER BY c.id LIMIT :first
"""


class SqlOwnershipReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def portfolio(self, rm_id: int) -> PortfolioSummary:
        async with self._engine.connect() as conn:
            totals = (await conn.execute(text(_TOTALS), {"rm": rm_id})).all()
            counts = (await conn.execute(text(_COUNTS), {"rm": rm_id})).one()
            tiers = (
                (await conn.execute(text(_TIERS), {"rm": rm_id, "period": counts.period})).all()
                if counts.period is not None
                else []
            )
        mix = dict.fromkeys(ValueTier, 0)
        mix.update({ValueTier(r.tier): r.n for r in tiers})
        return PortfolioSummary(
            rm_id=rm_id,
            customers=counts.customers,
            totals=tuple(
                CurrencyTotals(
                    currency=r.currency,
                    deposits=r.deposits,
                    loans=r.loans,
                    assets_under_management=r.aum,
                )
                for r in totals
            ),
            period=counts.period,
            contribution=sum((r.contribution for r in tiers), Decimal("0")),
            tiers=mix,
            open_alerts=counts.open_alerts,
            open_tasks=counts.open_tasks,
        )

    async def portfolio_page(self, rm_id: int, first: int, after: int | None) -> list[int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT id FROM customers WHERE relationship_manager_id = :rm AND id > :after "
                    "ORDER BY id LIMIT :first"
                ),
                {"rm": rm_id, "after": after or 0, "first": first},
            )
            return [r.id for r in rows]

    async def assignments(self, customer_ids: Sequence[int]) -> Mapping[int, list[RmAssignment]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM rm_assignments WHERE customer_id = ANY(:ids) "
                    "ORDER BY customer_id, occurred_at DESC, id DESC"
                ),
                {"ids": list(customer_ids)},
            )
            found: dict[int, list[RmAssignment]] = {}
            for r in rows:
                found.setdefault(r.customer_id, []).append(assignment_from_row(r))
            return found

    async def teams(self, customer_ids: Sequence[int]) -> Mapping[int, list[TeamMember]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT customer_id, rm_id, role FROM rm_team_members "
                    "WHERE customer_id = ANY(:ids) ORDER BY customer_id, rm_id"
                ),
                {"ids": list(customer_ids)},
            )
            found: dict[int, list[TeamMember]] = {}
            for r in rows:
                found.setdefault(r.customer_id, []).append(TeamMember(r.rm_id, r.role))
            return found

    async def violations(
        self, min_grade: RmGrade, first: int, after: int | None
    ) -> list[Violation]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(_VIOLATIONS),
                {"grade": int(min_grade), "first": first, "after": after or 0},
            )
            return [
                Violation(
                    customer_id=r.customer_id,
                    kind=ViolationKind(r.kind),
                    tier=None if r.tier is None else ValueTier(r.tier),
                    rm_id=r.rm_id,
                    rm_grade=None if r.grade is None else RmGrade(r.grade),
                    required_grade=min_grade,
                )
                for r in rows
            ]

    async def conflicts(self, first: int, after: int | None) -> list[OwnershipConflict]:
        async with self._engine.connect() as conn:
            customers = (
                await conn.execute(text(_CONFLICTS), {"first": first, "after": after or 0})
            ).all()
            ids = [r.customer_id for r in customers]
            claims = await conn.execute(
                text(
                    "SELECT * FROM ownership_claims WHERE customer_id = ANY(:ids) "
                    "AND status = 'open' ORDER BY customer_id, id"
                ),
                {"ids": ids},
            )
            by_customer: dict[int, list[OwnershipClaim]] = {}
            for r in claims:
                by_customer.setdefault(r.customer_id, []).append(claim_from_row(r))
        return [
            OwnershipConflict(
                customer_id=r.customer_id,
                home_branch_id=r.home_branch_id,
                claims=tuple(by_customer.get(r.customer_id, ())),
            )
            for r in customers
        ]
