"""A schema ready to shard by customer (Citus), read from the live schema (issue 25).

The rules, for every table:
- **customer-owned** (it has `customer_id`; `customers` itself is keyed by `id`): the customer
  key is in its primary key and in every unique constraint, so each row's shard is known and
  uniqueness can be enforced within a shard;
- **reference** (no customer key: catalogs, rules, rates): no foreign key from it to a
  customer-owned table;
- a foreign key between customer-owned tables carries the customer key on both sides
  (co-located), never crossing customers through a bare row id.

Today's schema breaks them in known places (BACKLOG, each with the change that fixes it). The
test fails on any breach not listed, so a new table is born shardable, and on a listed one that
was fixed, so the list stays true.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Tables kept on the coordinator: logs and queues read across customers on purpose (each row
# may name several customers, or none), and busy operational records.
NOT_SHARDED = {
    "audit_records": "an append-only log of reads, each naming any number of customers",
    "outbox": "a queue relayed in id order across customers",
    "alembic_version": "the migration tool's own",
    # Operational records written often and read by their own key, never joined with one
    # customer's rows on a worker: too busy to copy to every node as reference tables.
    "idempotency_keys": "claimed by the client's key before the customer is known",
    "import_runs": "one row per import run",
    "import_pending": "an import's staged records, by run",
    "import_refusals": "an import's refused records, by run",
    "webhook_subscriptions": "the receivers",
    "webhook_deliveries": "deliveries per subscription, across customers",
    "webhook_attempts": "attempts per delivery",
    "customer_merge_moves": "a merge's undo record, read by the undo alone",
}

_CONSTRAINTS = """
SELECT tc.table_name, tc.constraint_name, tc.constraint_type,
       array_agg(kcu.column_name::text ORDER BY kcu.ordinal_position) AS columns
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
WHERE tc.table_schema = 'public' AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
GROUP BY tc.table_name, tc.constraint_name, tc.constraint_type
"""
# Unique indexes are constraints too (information_schema lists only declared ones).
_UNIQUE_INDEXES = """
SELECT t.relname AS table_name, i.relname AS index_name,
       array_agg(a.attname::text) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
WHERE x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
GROUP BY t.relname, i.relname
"""
_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text AS table_name, c.confrelid::regclass::text AS referenced,
       c.conname AS name,
       ARRAY(SELECT attname::text FROM pg_attribute
             WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey)) AS columns,
       ARRAY(SELECT attname::text FROM pg_attribute
             WHERE attrelid = c.confrelid AND attnum = ANY (c.confkey)) AS referenced_columns
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace AND n.nspname = 'public'
WHERE c.contype = 'f'
"""
_TABLES = """
SELECT table_name, array_agg(column_name::text) AS columns
FROM information_schema.columns WHERE table_schema = 'public'
GROUP BY table_name
"""


def _key(table: str) -> str:
    return "id" if table == "customers" else "customer_id"


async def _breaches(engine: AsyncEngine) -> dict[str, set[str]]:
    async with engine.connect() as conn:
        tables = {r.table_name: set(r.columns) for r in await conn.execute(text(_TABLES))}
        uniques = [
            (r.table_name, r.constraint_name, r.constraint_type, r.columns)
            for r in await conn.execute(text(_CONSTRAINTS))
        ] + [
            (r.table_name, r.index_name, "UNIQUE INDEX", r.columns)
            for r in await conn.execute(text(_UNIQUE_INDEXES))
        ]
        foreign = list(await conn.execute(text(_FOREIGN_KEYS)))
    owned = {
        t for t, columns in tables.items() if "customer_id" in columns or t == "customers"
    } - set(NOT_SHARDED)
    found: dict[str, set[str]] = defaultdict(set)
    for table, name, kind, columns in uniques:
        if table in owned and _key(table) not in columns:
            found[table].add(f"{kind} {name} lacks {_key(table)}")
    for fk in foreign:
        source, target = fk.table_name, fk.referenced
        if source in NOT_SHARDED or target in NOT_SHARDED:
            continue
        if source not in owned and target in owned:
            found[source].add(f"reference table refers to {target} ({fk.name})")
        if source in owned and target in owned:
            pair = (_key(source), _key(target))
            carried = any(
                (s, t) == pair for s, t in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            if not carried:
                found[source].add(f"{fk.name} to {target} without the customer key")
    return found


# Known breaches, table by table, and the change that ends each. The migration
# keys_carry_the_customer ended the rest (primary keys (id, customer_id), co-located foreign
# keys). What is left trades an integrity rule the database enforces on one node today for one
# the application would enforce across shards; it belongs to the migration that distributes the
# tables (docs/scaling.md, stage 5), not to a single node, where it would only lose guarantees.
BACKLOG: dict[str, str] = {
    # Uniqueness across customers by nature: a lookup table distributed by the value itself
    # (value → customer), written in the same transaction as the customer's row.
    "customers": "the code's uniqueness through a lookup table distributed by the code; the "
    "parent, legal representative and merge links cross customers: kept as ids without foreign "
    "keys, joined through the coordinator",
    "identity_documents": "one holder per document (type, digest) through a lookup table "
    "distributed by the digest",
    "customer_source_keys": "itself the lookup (system, key) → customer: distributed by the key, "
    "its foreign key to customers dropped",
    "interactions": "the source reference's uniqueness through a lookup table distributed by "
    "the reference",
    "holdings": "the source reference's uniqueness through a lookup table distributed by the "
    "reference",
    "fund_movements": "the external reference's uniqueness through a lookup table distributed "
    "by the reference",
    # Relations between two customers: not co-located by construction.
    "corporate_contacts": "distributed by the company (corporate_id); the person kept as an id "
    "without a foreign key",
    "match_candidates": "a stewards' queue across customers, distributed by its own id; both "
    "records read through the coordinator, kept as ids without foreign keys",
    "customer_merges": "distributed by the survivor; the merged record kept as an id without a "
    "foreign key",
}


async def test_every_table_is_shardable_by_customer_or_listed(engine: AsyncEngine) -> None:
    breaches = await _breaches(engine)
    new = {t: sorted(b) for t, b in breaches.items() if t not in BACKLOG}
    assert not new, f"tables that would not shard by customer (see the rules above): {new}"
    fixed = set(BACKLOG) - set(breaches)
    assert not fixed, f"listed in BACKLOG but shardable now: take them off: {fixed}"


SCALING = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
_PLAN = re.compile(r"<!-- distribution plan -->\n(.*?)<!-- end of the distribution plan -->", re.S)


def _names(tables: set[str]) -> str:
    return f"({len(tables)}): " + ", ".join(f"`{t}`" for t in sorted(tables))


async def test_the_distribution_plan_in_docs_names_every_table(engine: AsyncEngine) -> None:
    """docs/scaling.md's distribution plan is the live schema's: a new table appears there,
    in its place, or this fails with the plan to paste."""
    async with engine.connect() as conn:
        tables = {r.table_name: set(r.columns) for r in await conn.execute(text(_TABLES))}
    owned = {t for t, columns in tables.items() if "customer_id" in columns or t == "customers"}
    local = set(NOT_SHARDED) & set(tables)
    pending = set(BACKLOG)
    ready = owned - local - pending
    reference = set(tables) - owned - local - pending
    plan = (
        f"- **distributed by customer** {_names(ready)}\n"
        f"- **distributed once the change `BACKLOG` names is made** {_names(pending)}\n"
        f"- **reference tables**, a copy on every node {_names(reference)}\n"
        f"- **on the coordinator only** {_names(local)}\n"
    )
    found = _PLAN.search(SCALING.read_text(encoding="utf-8"))
    assert found is not None, "docs/scaling.md has no distribution plan block"
    assert found.group(1) == plan, f"docs/scaling.md's distribution plan should read:\n{plan}"
