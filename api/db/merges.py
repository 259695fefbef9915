"""Merge and unmerge in PostgreSQL (domain/identity/merging.py decides; this applies it).

A merge runs in one transaction: both records locked, the survivor's fields set by the plan
(history and lineage kept), every child row of the merged record moved to the survivor and
listed in `customer_merge_moves`, the stricter relationship state and the more restrictive
consents taken, the merged record marked `merged_into_id` (its id and source keys then answer
the survivor; rows written for it land there through the `redirect_merged` trigger, marked
`arrived_for`), its event and audit record written. The merged record's own row is never
changed otherwise: an unmerge restores the survivor from `survivor_before`, moves the listed
rows back and sends back what arrived for the merged record since.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.customer_changes import COLUMNS, SqlMasterDataTransaction
from api.db.identity import pair_fingerprint
from api.db.value_store import SqlValueStore
from domain.customers.history import Author, FieldChange
from domain.errors import DomainError, NotFound
from domain.identity.merging import (
    FIELD_RULES,
    FOLLOWERS,
    AutoMerge,
    CannotUnmerge,
    MergeSide,
    plan_merge,
    restrictive_consents,
    stricter,
)
from domain.identity.review import AlreadyDecided, MergeDone, MergeRequest
from domain.ids import encode_id
from domain.relationships import ReasonCode, RelationshipState

log = logging.getLogger(__name__)

# Rows that follow their customer wholesale; the condition (if any) picks what moves.
_MOVED: Mapping[str, str] = {
    "holdings": "",
    "fund_movements": "",
    "interactions": "",
    "tasks": "",
    "alerts": "",
    "relationship_state_changes": "",
    "rm_assignments": "",
    # An open claim by a branch that has one open on the survivor is that claim already.
    "ownership_claims": "AND NOT (t.status = 'open' AND EXISTS (SELECT 1 FROM ownership_claims "
    "o WHERE o.customer_id = :s AND o.branch_id = t.branch_id AND o.status = 'open'))",
    "legal_holds": "",
    "state_change_proposals": "",
    # A document of a type the survivor holds stays with the merged record (one per type).
    "identity_documents": "AND NOT EXISTS (SELECT 1 FROM identity_documents o "
    "WHERE o.customer_id = :s AND o.type = t.type)",
}
# Link rows keyed by the customer (table, the customer's column, the rest of the key).
_LINKS = (
    ("corporate_contacts", "corporate_id", ("person_id", "role")),
    ("corporate_contacts", "person_id", ("corporate_id", "role")),
    ("rm_team_members", "customer_id", ("rm_id",)),
)
# Rows written since the merge for the merged record (the redirect trigger marked them).
_ARRIVALS = ("holdings", "interactions", "fund_movements", "tasks", "alerts")

_LOCK = text("SELECT * FROM customers WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
_SYSTEMS = text(
    "SELECT customer_id, array_agg(DISTINCT system) AS systems FROM customer_source_keys "
    "WHERE customer_id = ANY(:ids) GROUP BY customer_id"
)
_CHANGED = text(
    "SELECT customer_id, field, max(changed_at) AS at FROM customer_changes "
    "WHERE customer_id = ANY(:ids) GROUP BY customer_id, field"
)
_SNAPSHOT = text("SELECT to_jsonb(c.*) FROM customers c WHERE id = :id")
_STATE = text(
    "SELECT customer_id, state, version FROM relationship_states WHERE customer_id = ANY(:ids)"
)
_CONSENTS = text(
    "SELECT DISTINCT ON (customer_id, purpose, channel) customer_id, purpose, channel, granted "
    "FROM consents WHERE customer_id = ANY(:ids) "
    "ORDER BY customer_id, purpose, channel, version DESC"
)
_RM_BRANCH = text("SELECT branch_id FROM relationship_managers WHERE id = :id")


def _json(value: object) -> str:
    return orjson.dumps(value, default=str).decode()


def _side(row: Any, systems: Mapping[int, list[str]], changed: Mapping[int, Any]) -> MergeSide:
    paths = [*FIELD_RULES, *FOLLOWERS]
    return MergeSide(
        id=row.id,
        kind=row.kind,
        created_at=row.created_at,
        updated_at=row.updated_at,
        systems=frozenset(systems.get(row.id, ())),
        completeness=row.completeness,
        values={path: getattr(row, COLUMNS[path]) for path in paths},
        changed_at=changed.get(row.id, {}),
        erased=row.erased_at is not None,
        merged_into=row.merged_into_id,
    )


class _Merge(SqlMasterDataTransaction):
    async def move(self, merge_id: int, table: str, s: int, m: int, condition: str) -> int:
        moved = await self.conn.execute(
            text(
                f"WITH moved AS (UPDATE {table} t SET customer_id = :s "
                f"WHERE t.customer_id = :m {condition} RETURNING t.id) "
                "INSERT INTO customer_merge_moves (merge_id, table_name, row_id, action) "
                f"SELECT :merge, '{table}', id, 'moved' FROM moved"
            ),
            {"s": s, "m": m, "merge": merge_id},
        )
        return moved.rowcount

    async def note(self, merge_id: int, table: str, row_id: int, action: str, before: Any) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO customer_merge_moves (merge_id, table_name, row_id, action, before) "
                "VALUES (:merge, :table, :row, :action, CAST(:before AS jsonb))"
            ),
            {
                "merge": merge_id,
                "table": table,
                "row": row_id,
                "action": action,
                "before": None if before is None else _json(before),
            },
        )


class SqlMerges:
    def __init__(self, engine: AsyncEngine, on_commit: Any = None) -> None:
        self._engine = engine
        self._on_commit = on_commit

    async def merge(self, request: MergeRequest) -> MergeDone:
        async with _Merge(self._engine, self._on_commit) as tx:
            result = await self._merge(tx, request)
            await tx.commit()
        await self._rescore([result.survivor_id, result.merged_id])
        return result

    async def _merge(self, tx: _Merge, request: MergeRequest) -> MergeDone:
        conn = tx.conn
        ids = sorted({request.left_id, request.right_id})
        rows = {r.id: r for r in (await conn.execute(_LOCK, {"ids": ids})).all()}
        for wanted in ids:
            if wanted not in rows:
                raise NotFound("customer", encode_id("Customer", wanted))
        if request.candidate_id is not None:
            # Two stewards on one pair: the second finds it decided.
            status = (
                await conn.execute(
                    text("SELECT status FROM match_candidates WHERE id = :id FOR UPDATE"),
                    {"id": request.candidate_id},
                )
            ).scalar()
            if status != "pending":
                raise AlreadyDecided(f"the pair was decided already ({status})")
        systems = {r.customer_id: r.systems for r in (await conn.execute(_SYSTEMS, {"ids": ids}))}
        changed: dict[int, dict[str, datetime]] = {}
        for r in await conn.execute(_CHANGED, {"ids": ids}):
            changed.setdefault(r.customer_id, {})[r.field] = r.at
        sides = [_side(rows[i], systems, changed) for i in (request.left_id, request.right_id)]
        plan = plan_merge(sides[0], sides[1], request.survivor_id)
        s, m = plan.survivor_id, plan.merged_id
        before = {i: (await conn.execute(_SNAPSHOT, {"id": i})).scalar_one() for i in (s, m)}
        merge_id: int = (
            await conn.execute(
                text(
                    "INSERT INTO customer_merges (survivor_id, merged_id, candidate_id, status, "
                    "probability, evidence, reason, survivor_before, merged_before, survivor_set, "
                    "lineage, outcomes, decided_by) VALUES (:s, :m, :candidate, 'merged', "
                    ":probability, CAST(:evidence AS jsonb), :reason, CAST(:sb AS jsonb), "
                    "CAST(:mb AS jsonb), '{}', '{}', '{}', :actor) RETURNING id"
                ),
                {
                    "s": s,
                    "m": m,
                    "candidate": request.candidate_id,
                    "probability": request.probability,
                    "evidence": None if request.evidence is None else _json(request.evidence),
                    "reason": request.reason,
                    "sb": _json(before[s]),
                    "mb": _json(before[m]),
                    "actor": request.actor,
                },
            )
        ).scalar_one()
        outcomes: dict[str, Any] = {"survivorChosenBy": plan.reason}
        columns = {COLUMNS[path]: value for path, value in plan.changes.items()}
        # The RM: the survivor's, else the merged record's; two different RMs are a conflict
        # for an approver (an ownership claim by the merged record's RM's branch).
        s_rm, m_rm = rows[s].relationship_manager_id, rows[m].relationship_manager_id
        if s_rm is None and m_rm is not None:
            columns["relationship_manager_id"] = m_rm
            outcomes["relationshipManager"] = {"took": m_rm}
        elif s_rm is not None and m_rm is not None and s_rm != m_rm:
            branch = (await conn.execute(_RM_BRANCH, {"id": m_rm})).scalar_one()
            claim: int | None = (
                await conn.execute(
                    text(
                        "INSERT INTO ownership_claims (customer_id, branch_id, note, status, "
                        "claimed_by, claimed_at) VALUES (:s, :branch, :note, 'open', :actor, "
                        "now()) ON CONFLICT DO NOTHING RETURNING id"
                    ),
                    {
                        "s": s,
                        "branch": branch,
                        "note": f"merge {merge_id}: customer {m} was served by RM {m_rm}, "
                        f"the survivor by RM {s_rm}",
                        "actor": request.actor,
                    },
                )
            ).scalar()
            if claim is not None:
                await tx.note(merge_id, "ownership_claims", claim, "added", None)
            outcomes["relationshipManager"] = {"kept": s_rm, "conflictWith": m_rm, "claim": claim}
        if columns:
            assignments = ", ".join(f"{c} = :{c}" for c in columns)
            await conn.execute(
                text(f"UPDATE customers SET {assignments} WHERE id = :s"), {**columns, "s": s}
            )
        author = Author(
            request.actor, correlation_id=request.correlation_id, reason=f"merge of customer {m}"
        )
        history = [
            FieldChange.of(path, getattr(rows[s], COLUMNS[path]), value)
            for path, value in plan.changes.items()
        ]
        if "relationship_manager_id" in columns:
            history.append(FieldChange.of("relationshipManager", None, m_rm))
        moved: dict[str, int] = {}
        # A merged record's pending proposal gives way to the survivor's own (one per customer).
        superseded = await conn.execute(
            text(
                "UPDATE state_change_proposals p SET status = 'rejected', decided_by = :actor, "
                "decided_at = now(), decision_note = :note WHERE p.customer_id = :m "
                "AND p.status = 'pending' AND EXISTS (SELECT 1 FROM state_change_proposals o "
                "WHERE o.customer_id = :s AND o.status = 'pending') RETURNING p.id"
            ),
            {"s": s, "m": m, "actor": request.actor, "note": f"superseded by merge {merge_id}"},
        )
        outcomes["supersededProposals"] = [r.id for r in superseded]
        for table, condition in _MOVED.items():
            moved[table] = await tx.move(merge_id, table, s, m, condition)
        for proposal in outcomes["supersededProposals"]:
            await conn.execute(
                text(
                    "UPDATE customer_merge_moves SET before = CAST(:b AS jsonb) WHERE merge_id = "
                    ":merge AND table_name = 'state_change_proposals' AND row_id = :id"
                ),
                {"b": _json({"status": "pending"}), "merge": merge_id, "id": proposal},
            )
        moved["contact_points"] = await self._move_contact_points(tx, merge_id, s, m)
        # Records merged into the merged one before answer the survivor now (no chains).
        for column in ("parent_id", "legal_representative_id", "merged_into_id"):
            related = await conn.execute(
                text(f"UPDATE customers SET {column} = :s WHERE {column} = :m RETURNING id"),
                {"s": s, "m": m},
            )
            for r in related:
                await tx.note(merge_id, f"customers.{column}", r.id, "moved", None)
        moved.update(await self._move_links(tx, merge_id, s, m))
        outcomes["relationshipState"] = await self._merge_states(tx, merge_id, request, s, m)
        outcomes["consentsRefused"] = await self._merge_consents(tx, merge_id, request, s, m)
        # After the moves: the survivor's completeness counts its new contact points too.
        await tx.record_changes(s, history, author)
        await conn.execute(
            text("UPDATE customers SET merged_into_id = :s, merged_at = now() WHERE id = :m"),
            {"s": s, "m": m},
        )
        await tx.record_changes(
            m,
            [FieldChange.of("mergedInto", None, s)],
            Author(
                request.actor, correlation_id=request.correlation_id, reason=f"merge {merge_id}"
            ),
        )
        await conn.execute(
            text(
                "UPDATE match_candidates SET status = CASE WHEN left_id = least(:s, :m) AND "
                "right_id = greatest(:s, :m) THEN 'merged' ELSE 'superseded' END, "
                "decided_by = :actor, decided_at = now() WHERE status = 'pending' "
                "AND (left_id IN (:s, :m) OR right_id IN (:s, :m)) "
                "AND (left_id = :m OR right_id = :m)"
            ),
            {"s": s, "m": m, "actor": request.actor},
        )
        survivor_set = (
            await conn.execute(
                text(
                    "SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM customers c, "
                    "jsonb_each(to_jsonb(c.*)) AS e(k, v) WHERE c.id = :s AND k = ANY(:cols)"
                ),
                {"s": s, "cols": list(columns)},
            )
        ).scalar_one()
        lineage = {
            path: {
                "customerId": found.customer_id,
                "system": found.system,
                "at": found.at.isoformat(),
                "rule": None if found.rule is None else found.rule.value,
            }
            for path, found in plan.lineage.items()
        }
        await conn.execute(
            text(
                "UPDATE customer_merges SET survivor_set = CAST(:set AS jsonb), "
                "lineage = CAST(:lineage AS jsonb), outcomes = CAST(:outcomes AS jsonb) "
                "WHERE id = :id"
            ),
            {
                "set": _json(survivor_set),
                "lineage": _json(lineage),
                "outcomes": _json({**outcomes, "moved": moved}),
                "id": merge_id,
            },
        )
        await _audit(conn, request, "mergeCustomers", [s, m], "merged", request.evidence)
        payload = {"survivorId": s, "mergedId": m, "mergeId": merge_id}
        await tx.emit(s, "customer.merged", payload)
        return MergeDone(merge_id, s, m)

    @staticmethod
    async def _move_links(tx: _Merge, merge_id: int, s: int, m: int) -> dict[str, int]:
        """Rows keyed by the customer itself (no id of their own): a company's contacts, the
        people a company names, an RM team. Moved unless the survivor has the same link; each
        listed with its key (`before`) under a running number."""
        moved: dict[str, int] = {}
        for table, column, others in _LINKS:
            found = await tx.conn.execute(
                text(
                    f"UPDATE {table} t SET {column} = :s WHERE t.{column} = :m AND NOT EXISTS ("
                    f"SELECT 1 FROM {table} o WHERE o.{column} = :s "
                    + "".join(f"AND o.{c} = t.{c} " for c in others)
                    + f") RETURNING {', '.join(others)}"
                ),
                {"s": s, "m": m},
            )
            rows = [dict(r._mapping) for r in found]
            for n, key in enumerate(rows, start=1):
                await tx.note(merge_id, f"{table}.{column}", n, "linked", key)
            moved[f"{table}.{column}"] = len(rows)
        return moved

    @staticmethod
    async def _move_contact_points(tx: _Merge, merge_id: int, s: int, m: int) -> int:
        """A phone, e-mail or address the survivor lacks; it stays preferred unless the
        survivor has a preferred one of its kind."""
        moved = await tx.conn.execute(
            text(
                """
                WITH picked AS (
                    SELECT p.id, p.is_preferred FROM contact_points p
                    WHERE p.customer_id = :m AND NOT EXISTS (
                        SELECT 1 FROM contact_points o
                        WHERE o.customer_id = :s AND o.kind = p.kind AND o.value = p.value)
                ), moved AS (
                    UPDATE contact_points t SET customer_id = :s,
                        is_preferred = t.is_preferred AND NOT EXISTS (
                            SELECT 1 FROM contact_points o
                            WHERE o.customer_id = :s AND o.kind = t.kind AND o.is_preferred)
                    FROM picked WHERE t.id = picked.id
                    RETURNING t.id, picked.is_preferred AS was
                )
                INSERT INTO customer_merge_moves (merge_id, table_name, row_id, action, before)
                SELECT :merge, 'contact_points', id, 'moved',
                       jsonb_build_object('is_preferred', was)
                FROM moved
                """
            ),
            {"s": s, "m": m, "merge": merge_id},
        )
        return moved.rowcount

    @staticmethod
    async def _merge_states(
        tx: _Merge, merge_id: int, request: MergeRequest, s: int, m: int
    ) -> dict[str, Any] | None:
        states = {r.customer_id: r for r in await tx.conn.execute(_STATE, {"ids": [s, m]})}
        mine, theirs = states.get(s), states.get(m)
        if theirs is None:
            return None
        if mine is None:
            await tx.conn.execute(
                text("UPDATE relationship_states SET customer_id = :s WHERE customer_id = :m"),
                {"s": s, "m": m},
            )
            return {"state": theirs.state, "movedFrom": m}
        kept = stricter(RelationshipState(mine.state), RelationshipState(theirs.state))
        if kept.value == mine.state:
            return {"state": mine.state, "mergedState": theirs.state}
        await tx.conn.execute(
            text(
                "UPDATE relationship_states SET state = :state, since = now(), "
                "version = version + 1 WHERE customer_id = :s"
            ),
            {"state": kept.value, "s": s},
        )
        change: int = (
            await tx.conn.execute(
                text(
                    "INSERT INTO relationship_state_changes (customer_id, from_state, to_state, "
                    "reason_code, note, actor, occurred_at) VALUES (:s, :from_state, :to_state, "
                    ":reason, :note, :actor, now()) RETURNING id"
                ),
                {
                    "s": s,
                    "from_state": mine.state,
                    "to_state": kept.value,
                    "reason": ReasonCode.OTHER.value,
                    "note": f"merge {merge_id}: customer {m} was {theirs.state}; the stricter "
                    "state wins",
                    "actor": request.actor,
                },
            )
        ).scalar_one()
        await tx.note(merge_id, "relationship_state_changes", change, "added", None)
        return {"state": kept.value, "was": mine.state, "wasVersion": mine.version + 1}

    @staticmethod
    async def _merge_consents(
        tx: _Merge, merge_id: int, request: MergeRequest, s: int, m: int
    ) -> list[list[str]]:
        answers: dict[int, dict[tuple[str, str], bool]] = {s: {}, m: {}}
        for r in await tx.conn.execute(_CONSENTS, {"ids": [s, m]}):
            answers[r.customer_id][(r.purpose, r.channel)] = r.granted
        refused = restrictive_consents(answers[s], answers[m])
        for purpose, channel in refused:
            added: int = (
                await tx.conn.execute(
                    text(
                        "WITH k AS (SELECT CAST(:s AS bigint) AS c, CAST(:purpose AS text) AS p, "
                        "CAST(:channel AS text) AS ch) "
                        "INSERT INTO consents (customer_id, purpose, channel, granted, version, "
                        "recorded_at, source, actor) SELECT k.c, k.p, k.ch, false, "
                        "coalesce((SELECT max(version) FROM consents WHERE customer_id = k.c "
                        "AND purpose = k.p AND channel = k.ch), 0) + 1, now(), 'merge', :actor "
                        "FROM k RETURNING id"
                    ),
                    {"s": s, "purpose": purpose, "channel": channel, "actor": request.actor},
                )
            ).scalar_one()
            await tx.note(merge_id, "consents", added, "added", None)
        return [[p, c] for p, c in refused]

    async def _rescore(self, customer_ids: Sequence[int]) -> None:
        """The survivor's value for the latest scored month, now with both records' rows. After
        the commit, so a failure here leaves the merge done and the next scoring run fixes it."""
        try:
            async with self._engine.connect() as conn:
                period: date | None = (
                    await conn.execute(text("SELECT max(period) FROM value_periods"))
                ).scalar()
            if period is not None:
                await SqlValueStore(self._engine).rescore(period, customer_ids)
        except Exception:
            log.exception("customers %s: value not rescored after a merge", customer_ids)

    async def unmerge(self, merge_id: int, actor: str, role: str, correlation_id: str) -> MergeDone:
        async with _Merge(self._engine, self._on_commit) as tx:
            result = await self._unmerge(tx, merge_id, actor, role, correlation_id)
            await tx.commit()
        await self._rescore([result.survivor_id, result.merged_id])
        return result

    async def _unmerge(
        self, tx: _Merge, merge_id: int, actor: str, role: str, correlation_id: str
    ) -> MergeDone:
        conn = tx.conn
        merge = (
            await conn.execute(
                text("SELECT * FROM customer_merges WHERE id = :id FOR UPDATE"), {"id": merge_id}
            )
        ).first()
        if merge is None:
            raise NotFound("merge", encode_id("CustomerMerge", merge_id))
        if merge.status != "merged":
            raise CannotUnmerge(f"merge {merge_id} was undone already")
        s, m = merge.survivor_id, merge.merged_id
        rows = {r.id: r for r in (await conn.execute(_LOCK, {"ids": sorted([s, m])})).all()}
        if rows[s].merged_into_id is not None:
            raise CannotUnmerge(
                f"customer {s} was merged into {rows[s].merged_into_id} since: undo that first"
            )
        later = (
            await conn.execute(
                text(
                    "SELECT id FROM customer_merges WHERE survivor_id = :s AND status = 'merged' "
                    "AND id > :id ORDER BY id LIMIT 1"
                ),
                {"s": s, "id": merge_id},
            )
        ).scalar()
        if later is not None:
            raise CannotUnmerge(f"merge {later} into the same survivor came later: undo it first")
        # The merged record stands again; from here on nothing written for it is redirected.
        await conn.execute(
            text("UPDATE customers SET merged_into_id = NULL, merged_at = NULL WHERE id = :m"),
            {"m": m},
        )
        history: list[FieldChange] = []
        kept_fields = await self._restore_survivor(tx, merge, s, history)
        returned: dict[str, int] = {}
        review: dict[str, list[int]] = {}
        moves = (
            await conn.execute(
                text(
                    "SELECT table_name, row_id, action, before FROM customer_merge_moves "
                    "WHERE merge_id = :id ORDER BY table_name, row_id"
                ),
                {"id": merge_id},
            )
        ).all()
        by_table: dict[str, list[Any]] = {}
        for move in moves:
            by_table.setdefault(move.table_name, []).append(move)
        for table, listed in by_table.items():
            moved_ids = [x.row_id for x in listed if x.action == "moved"]
            added_ids = [x.row_id for x in listed if x.action == "added"]
            linked = [x for x in listed if x.action == "linked"]
            if linked:
                base, _, column = table.partition(".")
                for x in linked:
                    key = " ".join(f"AND {c} = :{c}" for c in x.before)
                    done = await conn.execute(
                        text(f"UPDATE {base} SET {column} = :m WHERE {column} = :s {key}"),
                        {"m": m, "s": s, **x.before},
                    )
                    returned[table] = returned.get(table, 0) + done.rowcount
                continue
            if table.startswith("customers."):
                column = table.partition(".")[2]
                done = await conn.execute(
                    text(
                        f"UPDATE customers SET {column} = :m WHERE id = ANY(:ids) AND {column} = :s"
                    ),
                    {"m": m, "s": s, "ids": moved_ids},
                )
                returned[table] = done.rowcount
                continue
            if moved_ids:
                done = await conn.execute(
                    text(
                        f"UPDATE {table} SET customer_id = :m WHERE id = ANY(:ids) "
                        "AND customer_id = :s"
                    ),
                    {"m": m, "s": s, "ids": moved_ids},
                )
                returned[table] = done.rowcount
            for x in listed:
                if x.before:
                    await self._restore_columns(conn, table, x.row_id, x.before)
            if added_ids:
                await self._withdraw_added(tx, table, added_ids, merge, actor, review)
        # What arrived for the merged record since goes back to it; fund movements follow
        # their holding wherever it went.
        for table in _ARRIVALS:
            done = await conn.execute(
                text(
                    f"UPDATE {table} SET customer_id = :m, arrived_for = NULL "
                    "WHERE customer_id = :s AND arrived_for = :m"
                ),
                {"m": m, "s": s},
            )
            returned[table] = returned.get(table, 0) + done.rowcount
        followed = await conn.execute(
            text(
                "UPDATE fund_movements f SET customer_id = h.customer_id FROM holdings h "
                "WHERE f.holding_id = h.id AND f.customer_id IN (:s, :m) "
                "AND f.customer_id <> h.customer_id"
            ),
            {"m": m, "s": s},
        )
        returned["fund_movements"] = returned.get("fund_movements", 0) + followed.rowcount
        await self._list_ambiguous(conn, s, m, review)
        await self._restore_state(tx, merge, s, m, actor, review)
        await tx.record_changes(
            s,
            history,
            Author(actor, correlation_id=correlation_id, reason=f"unmerge of customer {m}"),
        )
        await tx.record_changes(
            m,
            [FieldChange.of("mergedInto", s, None)],
            Author(actor, correlation_id=correlation_id, reason=f"unmerge {merge_id}"),
        )
        report = {"returned": returned, "keptFields": kept_fields, "review": review}
        await conn.execute(
            text(
                "UPDATE customer_merges SET status = 'unmerged', undone_by = :actor, "
                "undone_at = now(), undo_report = CAST(:report AS jsonb) WHERE id = :id"
            ),
            {"actor": actor, "report": _json(report), "id": merge_id},
        )
        # Undone by a steward: the two are not one customer, and are not proposed again
        # unless one of them changes in a compared field.
        await conn.execute(
            text(
                "INSERT INTO match_candidates AS c (left_id, right_id, probability, weight, "
                "evidence, model_version, status, decided_by, decided_at, decision_note, "
                "decided_fingerprint) VALUES (:left, :right, 0, 0, '[]', "
                "'unmerge', 'not_same', :actor, now(), :note, :f) ON CONFLICT (left_id, right_id) "
                "DO UPDATE SET status = 'not_same', decided_by = :actor, decided_at = now(), "
                "decision_note = :note, decided_fingerprint = :f"
            ),
            {
                "left": min(s, m),
                "right": max(s, m),
                "actor": actor,
                "note": f"unmerged (merge {merge_id})",
                "f": await pair_fingerprint(conn, min(s, m), max(s, m)),
            },
        )
        request = MergeRequest(s, m, actor, role, correlation_id)
        await _audit(conn, request, "unmergeCustomers", [s, m], "unmerged", None)
        payload = {"survivorId": s, "mergedId": m, "mergeId": merge_id}
        await tx.emit(s, "customer.unmerged", payload)
        await tx.emit(m, "customer.unmerged", payload)
        return MergeDone(merge_id, s, m)

    @staticmethod
    async def _restore_survivor(
        tx: _Merge, merge: Any, s: int, history: list[FieldChange]
    ) -> list[str]:
        """Each column the merge set goes back to its value before, unless it was changed
        since (then the later change stands, and is reported)."""
        kept: list[str] = []
        current = (await tx.conn.execute(_SNAPSHOT, {"id": s})).scalar_one()
        restore = []
        for column, value in merge.survivor_set.items():
            if current.get(column) == value:
                restore.append(column)
            else:
                kept.append(column)
        if restore:
            assignments = ", ".join(f"{c} = b.{c}" for c in restore)
            await tx.conn.execute(
                text(
                    f"UPDATE customers c SET {assignments} FROM "
                    "jsonb_populate_record(NULL::customers, CAST(:before AS jsonb)) b "
                    "WHERE c.id = :s"
                ),
                {"before": _json(merge.survivor_before), "s": s},
            )
            paths = {column: path for path, column in COLUMNS.items()}
            paths["relationship_manager_id"] = "relationshipManager"
            history.extend(
                FieldChange.of(paths.get(c, c), current.get(c), merge.survivor_before.get(c))
                for c in restore
            )
        return kept

    @staticmethod
    async def _restore_columns(
        conn: AsyncConnection, table: str, row_id: int, before: Mapping[str, Any]
    ) -> None:
        assignments = ", ".join(f"{c} = b.{c}" for c in before)
        await conn.execute(
            text(
                f"UPDATE {table} t SET {assignments} FROM "
                f"jsonb_populate_record(NULL::{table}, CAST(:before AS jsonb)) b "
                "WHERE t.id = :id"
            ),
            {"before": _json(before), "id": row_id},
        )

    @staticmethod
    async def _withdraw_added(
        tx: _Merge,
        table: str,
        added: list[int],
        merge: Any,
        actor: str,
        review: dict[str, list[int]],
    ) -> None:
        """Rows the merge itself wrote, removed while nobody acted on them: its consent refusals
        while still the latest answer, its ownership claim while still open (the merge's record
        keeps both in its outcomes). One that was acted on stays, for the steward."""
        conn = tx.conn
        if table == "consents":
            gone = await conn.execute(
                text(
                    "DELETE FROM consents k WHERE k.id = ANY(:ids) AND NOT EXISTS ("
                    "SELECT 1 FROM consents l WHERE l.customer_id = k.customer_id "
                    "AND l.purpose = k.purpose AND l.channel = k.channel AND l.version > k.version"
                    ") RETURNING k.id"
                ),
                {"ids": added},
            )
        elif table == "ownership_claims":
            gone = await conn.execute(
                text(
                    "DELETE FROM ownership_claims WHERE id = ANY(:ids) AND status = 'open' RETURNING id"
                ),
                {"ids": added},
            )
        else:
            return  # the state change the merge wrote stays in the history (_restore_state)
        left = sorted(set(added) - {r.id for r in gone})
        if left:
            review.setdefault(table, []).extend(left)

    @staticmethod
    async def _list_ambiguous(
        conn: AsyncConnection, s: int, m: int, review: dict[str, list[int]]
    ) -> None:
        """Rows that stayed with the survivor but belong to something that went back: a task
        or alert about an interaction, holding or task now the merged record's."""
        found = await conn.execute(
            text(
                """
                SELECT 'tasks' AS kind, k.id FROM tasks k
                JOIN interactions i ON i.id IN (k.source_interaction_id, k.result_interaction_id)
                WHERE k.customer_id = :s AND i.customer_id = :m
                UNION
                SELECT 'alerts', a.id FROM alerts a JOIN tasks k ON k.id = a.task_id
                WHERE a.customer_id = :s AND k.customer_id = :m
                UNION
                SELECT 'alerts', a.id FROM alerts a JOIN tasks k ON k.id = a.task_id
                WHERE a.customer_id = :m AND k.customer_id = :s
                ORDER BY 1, 2
                """
            ),
            {"s": s, "m": m},
        )
        for r in found:
            review.setdefault(r.kind, []).append(r.id)

    @staticmethod
    async def _restore_state(
        tx: _Merge, merge: Any, s: int, m: int, actor: str, review: dict[str, list[int]]
    ) -> None:
        state = merge.outcomes.get("relationshipState") or {}
        if "movedFrom" in state:
            await tx.conn.execute(
                text("UPDATE relationship_states SET customer_id = :m WHERE customer_id = :s"),
                {"s": s, "m": m},
            )
            return
        if "was" not in state:
            return
        current = (
            await tx.conn.execute(
                text("SELECT state, version FROM relationship_states WHERE customer_id = :s"),
                {"s": s},
            )
        ).first()
        if current is None or current.version != state["wasVersion"]:
            review.setdefault("relationship_states", []).append(s)  # moved on since the merge
            return
        await tx.conn.execute(
            text(
                "UPDATE relationship_states SET state = :state, since = now(), "
                "version = version + 1 WHERE customer_id = :s"
            ),
            {"state": state["was"], "s": s},
        )
        await tx.conn.execute(
            text(
                "INSERT INTO relationship_state_changes (customer_id, from_state, to_state, "
                "reason_code, note, actor, occurred_at) VALUES (:s, :from_state, :to_state, "
                ":reason, :note, :actor, now())"
            ),
            {
                "s": s,
                "from_state": state["state"],
                "to_state": state["was"],
                "reason": ReasonCode.OTHER.value,
                "note": f"unmerge of merge {merge.id}: the state before it",
                "actor": actor,
            },
        )


async def _audit(
    conn: AsyncConnection,
    request: MergeRequest,
    operation: str,
    customer_ids: list[int],
    outcome: str,
    evidence: list[dict[str, Any]] | None,
) -> None:
    """The decision in the audit trail, in the same transaction: who, whom, on what evidence."""
    fields = [f"{e.get('field')}:{e.get('level')}" for e in evidence or ()]
    await conn.execute(
        text(
            "INSERT INTO audit_records (occurred_at, correlation_id, subject, role, channel, "
            "purpose, operation, customer_ids, fields, outcome) VALUES (:at, :cid, :subject, "
            ":role, 'identity', 'identity-resolution', :operation, :ids, :fields, :outcome)"
        ),
        {
            "at": datetime.now(UTC),
            "cid": request.correlation_id,
            "subject": request.actor,
            "role": request.role,
            "operation": operation,
            "ids": customer_ids,
            "fields": fields,
            "outcome": outcome,
        },
    )


_AUTO = text(
    """
    SELECT c.id, c.left_id, c.right_id, c.probability, c.evidence,
        ARRAY(SELECT DISTINCT k.system FROM customer_source_keys k
              WHERE k.customer_id IN (c.left_id, c.right_id)) AS systems
    FROM match_candidates c
    WHERE c.status = 'pending' AND c.probability >= :floor
    ORDER BY c.probability DESC, c.id
    LIMIT :limit
    """
)


async def auto_merge(
    engine: AsyncEngine, merges: SqlMerges, policy: AutoMerge, limit: int = 500
) -> list[int]:
    """Merge the pending pairs at or above their source system's auto-merge threshold, each
    in its own transaction as a steward's merge would be (actor `auto-merge`, audited); a pair
    the rules refuse stays in the queue. The merges made."""
    if not policy.thresholds:
        return []
    async with engine.connect() as conn:
        rows = (
            await conn.execute(_AUTO, {"floor": min(policy.thresholds.values()), "limit": limit})
        ).all()
    done = []
    for row in rows:
        threshold = policy.threshold_for(frozenset(row.systems))
        if threshold is None or row.probability < threshold:
            continue
        request = MergeRequest(
            row.left_id,
            row.right_id,
            actor="auto-merge",
            role="system",
            correlation_id=f"auto-merge-{row.id}",
            candidate_id=row.id,
            probability=row.probability,
            evidence=list(row.evidence),
            reason=f"auto-merge: p ≥ {threshold} for {', '.join(sorted(row.systems))}",
        )
        try:
            result = await merges.merge(request)
        except DomainError as exc:  # merged meanwhile, erased, decided: the queue keeps it
            log.info("auto-merge of pair %s refused: %s", row.id, exc.code)
            continue
        done.append(result.merge_id)
    return done
