"""`quanjing resolve` in PostgreSQL: every customer's matching facts read in chunks, their
blocking keys staged by COPY and joined in one statement to form candidate pairs, each pair
scored by the domain's matcher, and the pairs worth a steward's look kept in
`match_candidates` (a pair the steward said is not one customer stays decided)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from domain.customers.model import CustomerKind
from domain.identity.matching import MAX_BLOCK, MatchRecord, MatchScore, blocking_keys, score
from domain.identity.names import parse_name

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
WHERE c.erased_at IS NULL AND c.id > $1
ORDER BY c.id
LIMIT $2
"""
_PAIRS = f"""
SELECT DISTINCT a.customer_id AS left_id, b.customer_id AS right_id
FROM match_keys a JOIN match_keys b ON b.key = a.key AND a.customer_id < b.customer_id
WHERE a.key IN (SELECT key FROM match_keys GROUP BY key HAVING count(*) <= {MAX_BLOCK})
"""
_SAVE = """
INSERT INTO match_candidates (left_id, right_id, probability, weight, evidence, model_version)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::jsonb[],
                     $6::text[])
ON CONFLICT (left_id, right_id) DO UPDATE SET probability = excluded.probability,
  weight = excluded.weight, evidence = excluded.evidence,
  model_version = excluded.model_version, found_at = now()
WHERE match_candidates.status = 'pending'
"""


@dataclass(frozen=True, slots=True)
class ResolveReport:
    customers: int
    pairs: int  # candidate pairs formed by blocking
    kept: int  # at or above the threshold, kept for review


def _record(row: asyncpg.Record) -> MatchRecord:
    kind = CustomerKind(row["kind"])
    documents = {}
    for entry in row["documents"]:
        doc_type, _, digest = entry.partition(":")
        documents[doc_type] = bytes.fromhex(digest)
    return MatchRecord(
        id=row["id"],
        kind=kind,
        name=parse_name(row["name"], person=kind is CustomerKind.PERSONAL),
        birth_date=row["birth_date"],
        documents=documents,
        phones=frozenset(row["phones"]),
        emails=frozenset(row["emails"]),
        address=row["address"],
    )


def _evidence(found: MatchScore) -> str:
    return orjson.dumps([asdict(e) for e in found.evidence], default=str).decode()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def resolve(engine: AsyncEngine, threshold: float, chunk: int = 10_000) -> ResolveReport:
    """Match the whole base: the pairs at or above `threshold` go to the review queue."""
    conn = await asyncpg.connect(asyncpg_dsn(engine.url.render_as_string(hide_password=False)))
    try:
        records: dict[int, MatchRecord] = {}
        await conn.execute("CREATE TEMP TABLE match_keys (key text, customer_id bigint)")
        after = 0
        while rows := await conn.fetch(_FACTS, after, chunk):
            batch = [_record(r) for r in rows]
            records.update((r.id, r) for r in batch)
            await conn.copy_records_to_table(
                "match_keys",
                records=[(key, r.id) for r in batch for key in blocking_keys(r)],
                columns=("key", "customer_id"),
            )
            after = rows[-1]["id"]
        await conn.execute("CREATE INDEX ON match_keys (key)")
        pairs = await conn.fetch(_PAIRS)
        kept = 0
        for part in _chunks(pairs, 5_000):
            scores = [score(records[p["left_id"]], records[p["right_id"]]) for p in part]
            keep = [s for s in scores if s.probability >= threshold]
            kept += len(keep)
            if keep:
                await conn.execute(
                    _SAVE,
                    [s.left for s in keep],
                    [s.right for s in keep],
                    [s.probability for s in keep],
                    [s.weight for s in keep],
                    [_evidence(s) for s in keep],
                    [s.model for s in keep],
                )
        return ResolveReport(len(records), len(pairs), kept)
    finally:
        await conn.close()
