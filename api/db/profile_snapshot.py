"""The profile in one statement: the customer and every part a selection names, from one
snapshot of the database (the registered-profile lane and plain execution's prefetch)."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import autocommit
from api.db.rows import (
    branch_from_row,
    consent_from_row,
    contact_point_from_row,
    customer_from_row,
    document_from_row,
    holding_from_row,
    interaction_from_row,
    manager_from_row,
    proposal_from_row,
    relationship_from_row,
    task_from_row,
)
from api.db.tables import (
    BranchRow,
    ConsentRow,
    ContactPointRow,
    CustomerRow,
    HoldingRow,
    IdentityDocumentRow,
    InteractionRow,
    RelationshipManagerRow,
    RelationshipStateRow,
    StateChangeProposalRow,
    TaskRow,
)
from domain.interactions import TimelinePage
from domain.profile import EVERY_PART, ProfilePart, ProfileSnapshot

customers = CustomerRow.__table__
contact_points = ContactPointRow.__table__
documents = IdentityDocumentRow.__table__
branches = BranchRow.__table__
managers = RelationshipManagerRow.__table__
states = RelationshipStateRow.__table__
holdings = HoldingRow.__table__
interactions = InteractionRow.__table__
proposals = StateChangeProposalRow.__table__
tasks = TaskRow.__table__
consents = ConsentRow.__table__


_SEARCH_ONLY = frozenset({"name_pinyin"})


@functools.cache
def _names(table: Any) -> tuple[str, ...]:
    # Array columns stay out: asyncpg decodes arrays inside anonymous records only once it
    # has met the array type on that connection, and the profile shows none of them.
    # name_pinyin is the search's (written by a trigger), not the profile's.
    return tuple(
        c.name
        for c in table.columns
        if not isinstance(c.type, ARRAY) and c.name not in _SEARCH_ONLY
    )


def _columns(table: Any, alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in _names(table))


_HOLDING_EXTRA = ("product_code", "product_name", "category", "audience", "product_currency")

# The call-center profile in one statement: each part is the same rows, in the same order, as
# the loader that would otherwise fetch it, as an array of records (asyncpg decodes them to
# native types), and all parts come from one snapshot of the database.
_SNAPSHOT = text(
    f"""
    SELECT
      ARRAY(SELECT ROW({_columns(customers, "c")}) FROM customers c WHERE c.id = :cid)
        AS customer,
      ARRAY(SELECT ROW({_columns(contact_points, "x")}) FROM contact_points x
            WHERE :contact_points AND x.customer_id = :cid ORDER BY x.kind, x.is_preferred DESC, x.id)
        AS contact_points,
      ARRAY(SELECT ROW({_columns(documents, "x")}) FROM identity_documents x
            WHERE :documents AND x.customer_id = :cid ORDER BY x.id)
        AS documents,
      ARRAY(SELECT ROW({_columns(branches, "b")}) FROM branches b
            WHERE :home_branch AND b.id = (SELECT home_branch_id FROM customers WHERE id = :cid))
        AS branch,
      ARRAY(SELECT ROW({_columns(managers, "m")}) FROM relationship_managers m
            WHERE :relationship_manager
              AND m.id = (SELECT relationship_manager_id FROM customers WHERE id = :cid))
        AS manager,
      ARRAY(SELECT ROW({_columns(states, "s")}) FROM relationship_states s
            WHERE :relationship AND s.customer_id = :cid)
        AS relationship,
      ARRAY(SELECT ROW({_columns(proposals, "p")}) FROM state_change_proposals p
            WHERE :relationship AND p.customer_id = :cid AND p.status = 'pending')
        AS proposal,
      ARRAY(SELECT ROW({_columns(holdings, "h")}, p.code, p.name, p.category, p.audience,
                       p.currency)
            FROM holdings h JOIN products p ON p.id = h.product_id
            WHERE :holdings AND h.customer_id = :cid
            ORDER BY CASE WHEN h.status = 'closed' THEN 1 ELSE 0 END, h.opened_on, h.id)
        AS holdings,
      ARRAY(SELECT ROW({_columns(interactions, "i")}) FROM interactions i
            WHERE i.customer_id = :cid ORDER BY i.occurred_at DESC, i.id DESC LIMIT :page)
        AS interactions,
      ARRAY(SELECT ROW({_columns(tasks, "t")}) FROM tasks t
            WHERE :open_tasks AND t.customer_id = :cid AND t.status = 'open'
            ORDER BY t.due_at, t.id)
        AS tasks,
      ARRAY(SELECT ROW({_columns(consents, "k")})
            FROM (SELECT DISTINCT ON (purpose, channel) * FROM consents
                  WHERE :consents AND customer_id = :cid
                  ORDER BY purpose, channel, version DESC) k
            ORDER BY k.purpose, k.channel)
        AS consents,
      coalesce((SELECT version FROM profile_versions WHERE customer_id = :cid), 0) AS version,
      coalesce((SELECT version FROM profile_versions WHERE customer_id = 0), 0)
        AS reference_version
    """
)


@functools.cache
def _row_type(names: tuple[str, ...]) -> Any:
    return namedtuple("SnapshotRow", names)


def _rows_of(names: tuple[str, ...], records: Sequence[Any]) -> list[Any]:
    """Nested records as rows with attributes (a tuple type per column list, built once)."""
    make = _row_type(names)._make
    return [make(record) for record in records]


class SqlProfileSnapshots:
    """Reads run on an AUTOCOMMIT connection: a read pays for no BEGIN/COMMIT round trips."""

    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto) -> None:
        self._engine = autocommit(engine)
        self._crypto = crypto

    async def profile_snapshot(
        self, customer_id: int, timeline_first: int, parts: frozenset[ProfilePart] = EVERY_PART
    ) -> ProfileSnapshot:
        """The profile's rows in one statement; a part not asked for is skipped by PostgreSQL
        (its condition is false before any row is read)."""
        wanted = {part.value: part in parts for part in ProfilePart}
        limit = timeline_first + 1 if ProfilePart.TIMELINE in parts else 0
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(_SNAPSHOT, {"cid": customer_id, "page": limit, **wanted})
            ).one()
        found = [customer_from_row(r) for r in _rows_of(_names(customers), row.customer)]
        branch = [branch_from_row(r) for r in _rows_of(_names(branches), row.branch)]
        manager = [manager_from_row(r) for r in _rows_of(_names(managers), row.manager)]
        relationship = [
            relationship_from_row(r) for r in _rows_of(_names(states), row.relationship)
        ]
        proposal = [proposal_from_row(r) for r in _rows_of(_names(proposals), row.proposal)]
        page = [interaction_from_row(r) for r in _rows_of(_names(interactions), row.interactions)]
        return ProfileSnapshot(
            customer=found[0] if found else None,
            contact_points=[
                contact_point_from_row(r)
                for r in _rows_of(_names(contact_points), row.contact_points)
            ],
            documents=[
                document_from_row(r, self._crypto)
                for r in _rows_of(_names(documents), row.documents)
            ],
            branch=branch[0] if branch else None,
            manager=manager[0] if manager else None,
            relationship=relationship[0] if relationship else None,
            pending_proposal=proposal[0] if proposal else None,
            holdings=[
                holding_from_row(r)
                for r in _rows_of(_names(holdings) + _HOLDING_EXTRA, row.holdings)
            ],
            timeline=TimelinePage(
                items=tuple(page[:timeline_first]), has_next_page=len(page) > timeline_first
            ),
            open_tasks=[task_from_row(r) for r in _rows_of(_names(tasks), row.tasks)],
            consents=[consent_from_row(r) for r in _rows_of(_names(consents), row.consents)],
            version=row.version,
            reference_version=row.reference_version,
        )
