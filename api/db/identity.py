"""Identity resolution in PostgreSQL.

- `quanjing resolve`: every customer's matching facts read in chunks, their blocking keys
  rebuilt in `customer_match_keys` by COPY and joined in one statement to form candidate
  pairs, each pair scored by the domain's matcher, the pairs worth a steward's look kept in
  `match_candidates`.
- Incremental matching (`match_customers`): the records a write just registered or changed,
  against the base through the same keys, inside the writing transaction; a file import's
  records at the end of its run (`match_import_run`).
- The steward's queue (`SqlIdentityReview`).

A pair the steward said is not one customer stays decided until one of the two records changes
in a field the matcher compares (its fingerprint), then it is proposed again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.db.engine import asyncpg_dsn
from domain.customers.model import CustomerKind
from domain.errors import NotFound
from domain.identity.matching import (
    MAX_BLOCK,
    REVIEW_THRESHOLD,
    MatchRecord,
    MatchScore,
    blocking_keys,
    fingerprint,
    score,
)
from domain.identity.names import parse_name
from domain.identity.review import AlreadyDecided, Candidate, CandidateStatus, MergeRecord
from domain.ids import encode_id

_FACTS = """
SELECT c.id, c.kind, coalesce(c.registered_name, c.display_name) AS name, c.birth_date,
  ARRAY(SELECT d.type || ':' || encode(d.number_hmac, 'hex') FROM identity_documents d
        WHERE d.customer_id = c.id) AS documents,
  ARRAY(SELECT p.value FROM contact_points p WHERE p.customer_id = c.id AND p.kind = 'phone')
    AS phones,
  ARRAY(SELECT p.value FROM contact_points p WHERE p.customer_id = c.id AND p.kind = 'email')
    AS emails,
  (SELECT p.value FROM contact_points p WHERE p.customer_id = c.id AND p.kind = 'address'
   ORDER BY p.is_preferred DESC, p.id LIMIT 1) AS address
FROM customers c
WHERE c.erased_at IS NULL AND c.merged_into_id IS NULL AND {where}
"""
_FACTS_AFTER = _FACTS.format(where="c.id > $1 ORDER BY c.id LIMIT $2")
_FACTS_OF = text(_FACTS.format(where="c.id = ANY(:ids)"))
_PAIRS = f"""
SELECT DISTINCT a.customer_id AS left_id, b.customer_id AS right_id
FROM customer_match_keys a
JOIN customer_match_keys b ON b.key = a.key AND a.customer_id < b.customer_id
WHERE a.key IN (SELECT key FROM customer_match_keys GROUP BY key HAVING count(*) <= {MAX_BLOCK})
"""
# A pending pair is re-scored; a pair decided "not the same" is proposed again only when its
# records changed in what the matcher compares; merged and superseded pairs stay as they are.
_SAVE = """
INSERT INTO match_candidates (left_id, right_id, probability, weight, evidence, model_version,
                              fingerprint)
SELECT * FROM unnest({types})
ON CONFLICT (left_id, right_id) DO UPDATE SET probability = excluded.probability,
  weight = excluded.weight, evidence = excluded.evidence, model_version = excluded.model_version,
  fingerprint = excluded.fingerprint, found_at = now(), status = 'pending'
WHERE match_candidates.status = 'pending'
   OR (match_candidates.status = 'not_same'
       AND match_candidates.decided_fingerprint IS DISTINCT FROM excluded.fingerprint)
"""
_SAVE_ASYNCPG = _SAVE.format(
    types="$1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::jsonb[], $6::text[], "
    "$7::text[]"
)
_SAVE_SQL = text(
    _SAVE.format(
        types="CAST(:l AS bigint[]), CAST(:r AS bigint[]), CAST(:p AS float8[]), "
        "CAST(:w AS float8[]), CAST(:e AS jsonb[]), CAST(:v AS text[]), CAST(:f AS text[])"
    )
)
# The given customers' keys replaced, and the matching facts of the customers sharing one of
# them (a key of a crowded block forms no pairs): one round trip.
_REKEY = text(
    f"""
    WITH gone AS (
        DELETE FROM customer_match_keys WHERE customer_id = ANY(:ids)
    ), added AS (
        INSERT INTO customer_match_keys (key, customer_id)
        SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:owners AS bigint[]))
        ON CONFLICT DO NOTHING
    ), near AS (
        SELECT DISTINCT n.customer_id FROM customer_match_keys n
        WHERE n.key = ANY(CAST(:keys AS text[])) AND n.customer_id <> ALL(CAST(:ids AS bigint[]))
          AND (SELECT count(*) FROM customer_match_keys b WHERE b.key = n.key) < {MAX_BLOCK}
    )
    """
    + _FACTS.format(where="c.id IN (SELECT customer_id FROM near)")
)


@dataclass(frozen=True, slots=True)
class ResolveReport:
    customers: int
    pairs: int  # candidate pairs formed by blocking
    kept: int  # at or above the threshold, kept for review


def _record(row: Any) -> MatchRecord:
    """From an asyncpg record (resolve) or a SQLAlchemy row (the writing transactions)."""
    get = row.__getitem__ if isinstance(row, asyncpg.Record) else row._mapping.__getitem__
    kind = CustomerKind(get("kind"))
    documents = {}
    for entry in get("documents"):
        doc_type, _, digest = entry.partition(":")
        documents[doc_type] = bytes.fromhex(digest)
    return MatchRecord(
        id=get("id"),
        kind=kind,
        name=parse_name(get("name"), person=kind is CustomerKind.PERSONAL),
        birth_date=get("birth_date"),
        documents=documents,
        phones=frozenset(get("phones")),
        emails=frozenset(get("emails")),
        address=get("address"),
    )


def _evidence(found: MatchScore) -> str:
    return orjson.dumps([asdict(e) for e in found.evidence], default=str).decode()


def _columns(kept: Sequence[tuple[MatchScore, str]]) -> list[list[Any]]:
    return [
        [s.left for s, _ in kept],
        [s.right for s, _ in kept],
        [s.probability for s, _ in kept],
        [s.weight for s, _ in kept],
        [_evidence(s) for s, _ in kept],
        [s.model for s, _ in kept],
        [f for _, f in kept],
    ]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scored(a: MatchRecord, b: MatchRecord) -> tuple[MatchScore, str]:
    left, right = (a, b) if a.id < b.id else (b, a)
    return score(left, right), fingerprint(left, right)


async def resolve(engine: AsyncEngine, threshold: float, chunk: int = 10_000) -> ResolveReport:
    """Match the whole base: the pairs at or above `threshold` go to the review queue."""
    conn = await asyncpg.connect(asyncpg_dsn(engine.url.render_as_string(hide_password=False)))
    try:
        await conn.execute("SET statement_timeout = 0")
        records: dict[int, MatchRecord] = {}
        async with conn.transaction():
            await conn.execute("TRUNCATE customer_match_keys")
            after = 0
            while rows := await conn.fetch(_FACTS_AFTER, after, chunk):
                batch = [_record(r) for r in rows]
                records.update((r.id, r) for r in batch)
                await conn.copy_records_to_table(
                    "customer_match_keys",
                    records=[(key, r.id) for r in batch for key in set(blocking_keys(r))],
                    columns=("key", "customer_id"),
                )
                after = rows[-1]["id"]
        await conn.execute("ANALYZE customer_match_keys")
        pairs = await conn.fetch(_PAIRS)
        kept = 0
        for part in _chunks(pairs, 5_000):
            scored = [_scored(records[p["left_id"]], records[p["right_id"]]) for p in part]
            keep = [(s, f) for s, f in scored if s.probability >= threshold]
            kept += len(keep)
            if keep:
                await conn.execute(_SAVE_ASYNCPG, *_columns(keep))
        return ResolveReport(len(records), len(pairs), kept)
    finally:
        await conn.close()


async def match_customers(
    conn: AsyncConnection, customer_ids: Sequence[int], threshold: float = REVIEW_THRESHOLD
) -> int:
    """Incremental matching, inside the writing transaction: the given records' blocking keys
    replaced, the customers sharing one read and scored against them, the pairs worth a look
    queued. Two statements (three when a pair is kept); how many pairs were kept."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    mine = {r.id: r for r in map(_record, await conn.execute(_FACTS_OF, {"ids": ids}))}
    keys = [(key, r.id) for r in mine.values() for key in set(blocking_keys(r))]
    found = await conn.execute(
        _REKEY, {"ids": ids, "keys": [k for k, _ in keys], "owners": [c for _, c in keys]}
    )
    others = {r.id: r for r in map(_record, found)}
    others.update(mine)
    # Pairs only within a shared key, as `quanjing resolve` forms them: never every new record
    # against every neighbour (a batch of a thousand would score a million pairs).
    holders: dict[str, set[int]] = {}
    for record in others.values():
        for key in blocking_keys(record):
            holders.setdefault(key, set()).add(record.id)
    pairs = {
        (min(a, b), max(a, b))
        for group in holders.values()
        if 1 < len(group) <= MAX_BLOCK
        for a in group & mine.keys()
        for b in group
        if a != b
    }
    scored = [_scored(others[a], others[b]) for a, b in sorted(pairs)]
    keep = [(s, f) for s, f in scored if s.probability >= threshold]
    if keep:
        names = ("l", "r", "p", "w", "e", "v", "f")
        await conn.execute(_SAVE_SQL, dict(zip(names, _columns(keep), strict=True)))
    return len(keep)


async def pair_fingerprint(conn: AsyncConnection, left: int, right: int) -> str | None:
    """The pair's fingerprint now (None if a record left matching: erased or merged)."""
    facts = {r.id: _record(r) for r in await conn.execute(_FACTS_OF, {"ids": [left, right]})}
    return fingerprint(facts[left], facts[right]) if len(facts) == 2 else None


# A run that wrote this share of the base or more is matched by `resolve`, set-based.
_RESOLVE_SHARE = 0.25


async def match_import_run(engine: AsyncEngine, run_id: int, chunk: int = 2_000) -> int:
    """Match what a file import wrote, at its end: the records of the run (its history entries
    name it) against the base — by `resolve` when they are a quarter of it or more (an initial
    load), in chunks of incremental matching otherwise (a delta). The pairs kept."""
    async with engine.connect() as conn:
        ids = list(
            await conn.scalars(
                text(
                    "SELECT DISTINCT customer_id FROM customer_changes "
                    "WHERE correlation_id = :run ORDER BY customer_id"
                ),
                {"run": f"import-run-{run_id}"},
            )
        )
        base = await conn.scalar(
            text("SELECT count(*) FROM customers WHERE merged_into_id IS NULL")
        )
    if not ids:
        return 0
    if len(ids) >= _RESOLVE_SHARE * (base or 1):
        return (await resolve(engine, REVIEW_THRESHOLD)).kept
    kept = 0
    for part in _chunks(ids, chunk):
        async with engine.begin() as conn:
            kept += await match_customers(conn, part)
    return kept


def _candidate(row: Any) -> Candidate:
    values = {f.name: row._mapping[f.name] for f in fields(Candidate)}
    return Candidate(**{**values, "status": CandidateStatus(row.status)})


def _merge(row: Any) -> MergeRecord:
    values = {f.name: row._mapping[f.name] for f in fields(MergeRecord)}
    return MergeRecord(**{**values, "evidence": row.evidence or []})


class SqlIdentityReview:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def candidates(
        self,
        status: CandidateStatus,
        min_probability: float,
        customer_id: int | None,
        after: int | None,
        limit: int,
    ) -> Sequence[Candidate]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM match_candidates WHERE status = :status "
                    "AND probability >= :p AND id > :after AND (CAST(:c AS bigint) IS NULL "
                    "OR left_id = :c OR right_id = :c) ORDER BY id LIMIT :limit"
                ),
                {
                    "status": status.value,
                    "p": min_probability,
                    "after": after or 0,
                    "c": customer_id,
                    "limit": limit,
                },
            )
            return [_candidate(r) for r in rows]

    async def candidate(self, candidate_id: int) -> Candidate | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT * FROM match_candidates WHERE id = :id"), {"id": candidate_id}
                )
            ).first()
        return None if row is None else _candidate(row)

    async def decide_not_same(self, candidate_id: int, actor: str, note: str | None) -> Candidate:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    text("SELECT * FROM match_candidates WHERE id = :id FOR UPDATE"),
                    {"id": candidate_id},
                )
            ).first()
            if row is None:
                raise NotFound("match candidate", encode_id("MatchCandidate", candidate_id))
            if row.status != CandidateStatus.PENDING.value:
                raise AlreadyDecided(f"the pair was decided already ({row.status})")
            digest = await pair_fingerprint(conn, row.left_id, row.right_id)
            updated = (
                await conn.execute(
                    text(
                        "UPDATE match_candidates SET status = 'not_same', decided_by = :actor, "
                        "decided_at = now(), decision_note = :note, decided_fingerprint = :f "
                        "WHERE id = :id RETURNING *"
                    ),
                    {"actor": actor, "note": note, "f": digest, "id": candidate_id},
                )
            ).one()
        return _candidate(updated)

    async def merges(
        self, customer_id: int | None, after: int | None, limit: int
    ) -> Sequence[MergeRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM customer_merges WHERE (CAST(:c AS bigint) IS NULL "
                    "OR survivor_id = :c OR merged_id = :c) AND (CAST(:after AS bigint) IS NULL "
                    "OR id < :after) ORDER BY id DESC LIMIT :limit"
                ),
                {"c": customer_id, "after": after, "limit": limit},
            )
            return [_merge(r) for r in rows]

    async def merge_record(self, merge_id: int) -> MergeRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT * FROM customer_merges WHERE id = :id"), {"id": merge_id}
                )
            ).first()
        return None if row is None else _merge(row)
