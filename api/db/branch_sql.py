"""SQL pieces several statements share: a branch with every unit below it, and a category
list written into a statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from api.db.tables import BranchRow

# The branch `:branch` and every unit below it, as a CTE named `units` for text statements
# (open it with WITH RECURSIVE); empty for a bank-wide statement (:branch null).
UNITS_CTE = """units AS (
    SELECT id FROM branches WHERE id = :branch
    UNION ALL
    SELECT b.id FROM branches b JOIN units u ON b.parent_id = u.id
)"""


def branches_below(ids: Sequence[int]) -> Any:
    """The same for SQLAlchemy statements: the branches `ids` and every unit below them."""
    tree = (
        select(BranchRow.__table__.c.id)
        .where(BranchRow.__table__.c.id.in_(list(ids)))
        .cte("tree", recursive=True)
    )
    child = BranchRow.__table__.alias("child")
    tree = tree.union_all(select(child.c.id).where(child.c.parent_id == tree.c.id))
    return select(tree.c.id)


def sql_list(values: Iterable[object]) -> str:
    """Constants (product categories) as a SQL list, sorted: never client input."""
    return ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))
