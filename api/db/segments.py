"""SqlSegmentStore: segment rules compiled to one SQL query over customers.

Each clause becomes a predicate and a "witness" (the member's own figure the clause looked
at: its balance, age, tier…), both SQLAlchemy expressions with bound parameters, so a rule
never turns into SQL text and is never evaluated customer by customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from api.db.branch_sql import branches_below
from api.db.tables import (
    BranchRow,
    CustomerRow,
    CustomerValueRow,
    FundMovementRow,
    HoldingRow,
    InteractionRow,
    ProductRow,
    RelationshipStateRow,
    SegmentRow,
    ValuePeriodRow,
)
from domain.products import DEPOSIT_CATEGORIES, INVESTMENT_CATEGORIES, LOAN_CATEGORIES
from domain.value.segments import (
    BalanceMeasure,
    Clause,
    ClauseKind,
    Member,
    Segment,
    SegmentRule,
    from_json,
    to_json,
)

c = CustomerRow.__table__.c
h = HoldingRow.__table__.alias("h")
p = ProductRow.__table__.alias("p")
v = CustomerValueRow.__table__.alias("v")
i = InteractionRow.__table__.alias("i")
b = BranchRow.__table__.alias("b")
s = RelationshipStateRow.__table__.alias("s")
m = FundMovementRow.__table__.alias("m")
segments = SegmentRow.__table__

_MEASURES = {
    BalanceMeasure.DEPOSITS: DEPOSIT_CATEGORIES,
    BalanceMeasure.LOANS: LOAN_CATEGORIES,
    BalanceMeasure.ASSETS_UNDER_MANAGEMENT: DEPOSIT_CATEGORIES | INVESTMENT_CATEGORIES,
}


@dataclass(frozen=True)
class Compiled:
    predicate: ColumnElement[bool]
    witness: ColumnElement[Any]


def _latest_period() -> Any:
    return select(func.max(ValuePeriodRow.__table__.c.period)).scalar_subquery()


def _matching(clause: Clause) -> ColumnElement[bool]:
    """The holding is the customer's, open, and of one of the clause's products."""
    matches = []
    if clause.product_codes:
        matches.append(p.c.code.in_(list(clause.product_codes)))
    if clause.categories:
        matches.append(p.c.category.in_([x.value for x in clause.categories]))
    return and_(h.c.customer_id == c.id, h.c.status != "closed", or_(*matches))


_HELD_FROM = h.join(p, p.c.id == h.c.product_id)


def _holds(clause: Clause) -> ColumnElement[bool]:
    return exists(select(h.c.id).select_from(_HELD_FROM).where(_matching(clause)))


def compile_clause(clause: Clause) -> Compiled:
    match clause.kind:
        case ClauseKind.TIER:
            tier = (
                select(v.c.tier)
                .where(v.c.customer_id == c.id, v.c.period == _latest_period())
                .scalar_subquery()
            )
            return Compiled(tier.in_([t.value for t in clause.tiers]), tier)
        case ClauseKind.HOLDS:
            codes = (
                select(func.string_agg(func.distinct(p.c.code), literal(", ")))
                .select_from(_HELD_FROM)
                .where(_matching(clause))
                .scalar_subquery()
            )
            return Compiled(_holds(clause), codes)
        case ClauseKind.NOT_HOLDS:
            return Compiled(not_(_holds(clause)), literal("none held", String))
        case ClauseKind.BALANCE:
            assert clause.measure is not None
            total = func.coalesce(
                select(func.sum(h.c.balance))
                .select_from(h.join(p, p.c.id == h.c.product_id))
                .where(
                    h.c.customer_id == c.id,
                    h.c.status != "closed",
                    p.c.category.in_(sorted(str(x) for x in _MEASURES[clause.measure])),
                )
                .scalar_subquery(),
                0,
            )
            bounds = []
            if clause.minimum is not None:
                bounds.append(total >= clause.minimum)
            if clause.maximum is not None:
                bounds.append(total <= clause.maximum)
            return Compiled(and_(*bounds), total)
        case ClauseKind.CHANNEL_USE:
            assert clause.channel is not None
            assert clause.within_days is not None
            used = (
                select(func.count())
                .select_from(i)
                .where(
                    i.c.customer_id == c.id,
                    i.c.channel == clause.channel.value,
                    i.c.occurred_at >= func.now() - func.make_interval(0, 0, 0, clause.within_days),
                )
                .scalar_subquery()
            )
            return Compiled(used >= clause.min_interactions, used)
        case ClauseKind.BRANCH:
            return Compiled(
                c.home_branch_id.in_(branches_below(clause.branch_ids)), c.home_branch_id
            )
        case ClauseKind.REGION:
            city = select(b.c.city).where(b.c.id == c.home_branch_id).scalar_subquery()
            return Compiled(city.in_(list(clause.cities)), city)
        case ClauseKind.INDUSTRY:
            return Compiled(c.industry.in_(list(clause.industries)), c.industry)
        case ClauseKind.AGE:
            age = func.date_part("year", func.age(c.birth_date))
            bounds = [c.birth_date.is_not(None)]
            if clause.min_age is not None:
                bounds.append(age >= clause.min_age)
            if clause.max_age is not None:
                bounds.append(age <= clause.max_age)
            return Compiled(and_(*bounds), cast(age, String))
        case ClauseKind.RELATIONSHIP_STATE:
            state = select(s.c.state).where(s.c.customer_id == c.id).scalar_subquery()
            return Compiled(state.in_([x.value for x in clause.states]), state)
        case ClauseKind.CUSTOMER_KIND:
            return Compiled(c.kind.in_([x.value for x in clause.kinds]), c.kind)
        case ClauseKind.NET_INFLOW | ClauseKind.LARGEST_MOVEMENT:
            assert clause.within_days is not None
            signed = case((m.c.direction == "credit", m.c.amount), else_=-m.c.amount)
            measure = (
                func.sum(signed) if clause.kind is ClauseKind.NET_INFLOW else func.max(m.c.amount)
            )
            flow = func.coalesce(
                select(measure)
                .where(
                    m.c.customer_id == c.id,
                    m.c.currency == "CNY",
                    m.c.booked_at >= func.now() - func.make_interval(0, 0, 0, clause.within_days),
                )
                .scalar_subquery(),
                0,
            )
            bounds = []
            if clause.minimum is not None:
                bounds.append(flow >= clause.minimum)
            if clause.maximum is not None:
                bounds.append(flow <= clause.maximum)
            return Compiled(and_(*bounds), cast(flow, String))


def _where(rule: SegmentRule) -> tuple[list[Compiled], ColumnElement[bool]]:
    compiled = [compile_clause(x) for x in rule.clauses]
    # Erased customers keep their accounts but leave every marketing list.
    # A record merged into another is counted once, as its survivor.
    return compiled, and_(
        c.erased_at.is_(None), c.merged_into_id.is_(None), *(x.predicate for x in compiled)
    )


def targeted(rules: Sequence[SegmentRule]) -> ColumnElement[bool]:
    """Customers in any of the segments, erased ones included: a campaign's launch keeps
    them, out, with their reason (api/db/campaign_runs.py)."""
    return and_(
        c.merged_into_id.is_(None),
        or_(*(and_(true(), *(compile_clause(x).predicate for x in r.clauses)) for r in rules)),
    )


def _segment(row: Any) -> Segment:
    return Segment(
        id=row.id,
        name=row.name,
        description=row.description,
        rule=from_json(row.rule),
        created_by=row.created_by,
        created_at=row.created_at,
    )


class SqlSegmentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def count(self, rule: SegmentRule) -> int:
        _, where = _where(rule)
        async with self._engine.connect() as conn:
            found: int = (
                await conn.execute(select(func.count()).select_from(CustomerRow).where(where))
            ).scalar_one()
            return found

    async def members(
        self, rule: SegmentRule, first: int, after: int | None, rm_id: int | None = None
    ) -> list[Member]:
        compiled, where = _where(rule)
        query = (
            select(c.id, *(cast(x.witness, String).label(f"w{n}") for n, x in enumerate(compiled)))
            .where(where, c.id > (after or 0))
            .order_by(c.id)
            .limit(first)
        )
        if rm_id is not None:
            query = query.where(c.relationship_manager_id == rm_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Member(customer_id=r.id, values=tuple(r[n + 1] for n in range(len(compiled))))
            for r in rows
        ]

    async def save(
        self, name: str, description: str | None, rule: SegmentRule, actor: str
    ) -> Segment | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    pg_insert(SegmentRow)
                    .values(
                        name=name, description=description, rule=to_json(rule), created_by=actor
                    )
                    .on_conflict_do_nothing(index_elements=[segments.c.name])
                    .returning(segments)
                )
            ).one_or_none()
        return None if row is None else _segment(row)

    async def get(self, segment_id: int) -> Segment | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(segments).where(segments.c.id == segment_id))
            ).one_or_none()
        return None if row is None else _segment(row)

    async def list(self, first: int, after: int | None) -> list[Segment]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(segments)
                .where(segments.c.id > (after or 0))
                .order_by(segments.c.id)
                .limit(first)
            )
            return [_segment(r) for r in rows]

    async def delete(self, segment_id: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(SegmentRow).where(segments.c.id == segment_id))
        return bool(result.rowcount)
