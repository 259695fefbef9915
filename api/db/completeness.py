"""Completeness kept with the record (domain/customers/completeness.py): assessed in the
transaction that changes a customer, for all customers by `quanjing assess-completeness`, and
reported per branch (`dataQualityReport`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.rows import customer_from_row
from domain.customers.completeness import (
    BranchQuality,
    Completeness,
    RecordFacts,
    WeakRecord,
    assess,
)
from domain.customers.model import ContactKind, DocumentType

# The facts an assessment reads, for a batch of customers, in one statement.
_FACTS = text(
    """
    SELECT c.*,
      ARRAY(SELECT DISTINCT p.kind FROM contact_points p WHERE p.customer_id = c.id)
        AS contact_kinds,
      ARRAY(SELECT DISTINCT d.type FROM identity_documents d WHERE d.customer_id = c.id)
        AS document_types,
      (SELECT count(*) FROM corporate_contacts k WHERE k.corporate_id = c.id)
        AS corporate_contact_count
    FROM customers c
    WHERE c.id = ANY(:ids)
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
_SAVE = text(
    """
    UPDATE customers c SET completeness = a.score,
      completeness_missing = string_to_array(NULLIF(a.missing, ''), ',')
    FROM unnest(CAST(:ids AS bigint[]), CAST(:scores AS smallint[]), CAST(:missing AS text[]))
      AS a(id, score, missing)
    WHERE c.id = a.id AND (c.completeness IS DISTINCT FROM a.score
       OR c.completeness_missing IS DISTINCT FROM string_to_array(NULLIF(a.missing, ''), ','))
    """
)


def _facts(row: Any) -> RecordFacts:
    return RecordFacts(
        customer=customer_from_row(row),
        contact_kinds=frozenset(ContactKind(k) for k in row.contact_kinds),
        document_types=frozenset(DocumentType(t) for t in row.document_types),
        corporate_contacts=row.corporate_contact_count,
    )


async def refresh_completeness(conn: AsyncConnection, customer_ids: Sequence[int]) -> int:
    """Assess the customers and keep the result with their records; how many changed."""
    rows = (await conn.execute(_FACTS, {"ids": list(customer_ids)})).all()
    assessed: list[tuple[int, Completeness]] = [(r.id, assess(_facts(r))) for r in rows]
    if not assessed:
        return 0
    result = await conn.execute(
        _SAVE,
        {
            "ids": [i for i, _ in assessed],
            "scores": [a.score for _, a in assessed],
            # Item paths hold no commas: a text per customer keeps the arrays rectangular.
            "missing": [",".join(a.missing) for _, a in assessed],
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def assess_everyone(engine: AsyncEngine, batch: int = 5_000) -> int:
    """Assess every customer, a batch per transaction (for databases from before the
    column, or after a change of the items); how many records changed."""
    changed = 0
    after = 0
    while True:
        async with engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        text("SELECT id FROM customers WHERE id > :after ORDER BY id LIMIT :n"),
                        {"after": after, "n": batch},
                    )
                ).scalars()
            )
            if not ids:
                return changed
            changed += await refresh_completeness(conn, ids)
        after = ids[-1]


_BY_BRANCH = text(
    """
    SELECT home_branch_id AS branch_id, count(*) AS customers,
      count(completeness) AS assessed, avg(completeness)::float AS average,
      count(*) FILTER (WHERE completeness < 20) AS b0,
      count(*) FILTER (WHERE completeness >= 20 AND completeness < 40) AS b1,
      count(*) FILTER (WHERE completeness >= 40 AND completeness < 60) AS b2,
      count(*) FILTER (WHERE completeness >= 60 AND completeness < 80) AS b3,
      count(*) FILTER (WHERE completeness >= 80) AS b4
    FROM customers
    WHERE erased_at IS NULL AND (CAST(:branch AS bigint) IS NULL OR home_branch_id = :branch)
    GROUP BY home_branch_id
    ORDER BY home_branch_id NULLS LAST
    """
)
# Keyset order (score, id): the index ix_customers_branch_completeness serves one branch.
_WEAKEST = text(
    """
    SELECT id, completeness, completeness_missing FROM customers
    WHERE erased_at IS NULL AND completeness IS NOT NULL
      AND (CAST(:branch AS bigint) IS NULL OR home_branch_id = :branch)
      AND (completeness, id) > (:score, :after)
    ORDER BY completeness, id
    LIMIT :n
    """
)


class SqlDataQuality:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def by_branch(self, branch_id: int | None) -> list[BranchQuality]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_BY_BRANCH, {"branch": branch_id})).all()
        return [
            BranchQuality(
                branch_id=r.branch_id,
                customers=r.customers,
                assessed=r.assessed,
                average=None if r.average is None else round(r.average, 1),
                buckets=(r.b0, r.b1, r.b2, r.b3, r.b4),
            )
            for r in rows
        ]

    async def weakest(
        self, branch_id: int | None, after: tuple[int, int] | None, limit: int
    ) -> list[WeakRecord]:
        score, last = after or (-1, 0)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    _WEAKEST, {"branch": branch_id, "score": score, "after": last, "n": limit}
                )
            ).all()
        return [WeakRecord(r.id, r.completeness, tuple(r.completeness_missing or ())) for r in rows]
