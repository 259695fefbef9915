"""The demo bank: deterministic for a seed, valid identifiers, long-tailed activity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import phonenumbers
import pytest
from stdnum.cn import ric, uscc

from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.ops.seed import TRANSACTION_CHANNELS, DatabaseNotEmpty, seed
from tests.scratch import scratch_database

PINNED_NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _fresh(endpoints: Endpoints, name: str) -> str:
    url = await scratch_database(endpoints, name)
    # alembic runs its own event loop: give it a thread of its own.
    await asyncio.to_thread(migrate, url)
    return url


async def _fingerprint(url: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT md5(string_agg(c::text, '|' ORDER BY c.id)) FROM "
            "(SELECT id, code, display_name, birth_date, relationship_manager_id, created_at, "
            "legal_representative_id, parent_id, credit_status FROM customers) c UNION ALL "
            "SELECT md5(string_agg(k::text, '|' ORDER BY k.corporate_id, k.person_id)) "
            "FROM corporate_contacts k UNION ALL "
            "SELECT md5(string_agg(r::text, '|' ORDER BY r.customer_id)) "
            "FROM relationship_states r UNION ALL "
            "SELECT md5(string_agg(p::text, '|' ORDER BY p.customer_id, p.kind)) FROM "
            "(SELECT customer_id, kind, value, label, verified FROM contact_points) p UNION ALL "
            "SELECT md5(string_agg(i::text, '|' ORDER BY i.id)) FROM (SELECT id, customer_id, "
            "channel, kind, occurred_at, cost, summary FROM interactions) i UNION ALL "
            "SELECT md5(string_agg(h::text, '|' ORDER BY h.id)) FROM holdings h"
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def test_the_same_seed_builds_the_same_bank(
    endpoints: Endpoints, crypto: DocumentCrypto
) -> None:
    a = await _fresh(endpoints, "seed_a")
    b = await _fresh(endpoints, "seed_b")
    await seed(a, crypto=crypto, customers=150, seed=11, now=PINNED_NOW)
    # Small batches: companies name people of earlier batches (through the import's ids).
    await seed(b, crypto=crypto, customers=150, seed=11, now=PINNED_NOW, batch_size=40)
    assert await _fingerprint(a) == await _fingerprint(b)
    await seed(b, crypto=crypto, customers=150, seed=12, now=PINNED_NOW, reset=True)
    assert await _fingerprint(a) != await _fingerprint(b)
    # Without reset, a bank that is there is left as it is (`quanjing seed` says so, exit 1).
    before = await _fingerprint(b)
    with pytest.raises(DatabaseNotEmpty, match="already holds 150 customers"):
        await seed(b, crypto=crypto, customers=150, seed=13, now=PINNED_NOW)
    assert await _fingerprint(b) == before


async def test_seeded_identifiers_are_valid_and_activity_is_long_tailed(
    endpoints: Endpoints, crypto: DocumentCrypto, seeded: int
) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        docs = await conn.fetch(
            "SELECT type, number_key_id, number_ciphertext, customer_id "
            "FROM identity_documents d JOIN customers c "
            "ON c.id = d.customer_id WHERE c.id <= $1",
            seeded,  # the seeded bank: tests add customers of their own after it
        )
        phones = await conn.fetch("SELECT value FROM contact_points WHERE kind = 'phone'")
        # Every seeded customer has core banking's number, as a real bank's feed would name it.
        unkeyed = await conn.fetchval(
            "SELECT count(*) FROM customers c WHERE c.id <= $1 "
            "AND NOT EXISTS (SELECT 1 FROM customer_source_keys k WHERE k.customer_id = c.id "
            "AND k.system = 'core_banking' AND k.key = 'CB' || lpad(c.id::text, 10, '0'))",
            seeded,
        )
        counts = [
            r["n"]
            for r in await conn.fetch(
                "SELECT count(i.id) AS n FROM customers c LEFT JOIN interactions i "
                "ON i.customer_id = c.id WHERE c.id <= $1 GROUP BY c.id",
                seeded,
            )
        ]
        kinds = dict(await conn.fetch("SELECT kind, count(*) FROM customers GROUP BY kind"))
        products = await conn.fetchval("SELECT count(*) FROM products")
    finally:
        await conn.close()
    assert unkeyed == 0
    for row in docs:
        validator = ric if row["type"] == "resident_id" else uscc
        number = crypto.open(
            row["type"], row["number_key_id"], row["number_ciphertext"], row["customer_id"]
        )
        assert validator.is_valid(number), number
    for row in phones:
        assert phonenumbers.is_valid_number(phonenumbers.parse(row["value"]))
    counts.sort()
    median = counts[len(counts) // 2]
    assert counts[-1] >= 8 * max(1, median), "the busiest customer should dwarf the median"
    assert kinds["corporate"] > 0
    assert products >= 20


async def test_demo_transactions_happen_where_they_can(endpoints: Endpoints, seeded: int) -> None:
    """Issue 23: the demo bank put 柜台转账 (a counter transfer) on EMAIL and 购买理财产品 on
    SMS; each transaction's summary now fits its channel."""
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        rows = await conn.fetch(
            "SELECT channel, summary, count(*) AS n FROM interactions "
            "WHERE kind = 'transaction' GROUP BY channel, summary"
        )
    finally:
        await conn.close()
    places = {text: {c.value for c in channels} for text, channels in TRANSACTION_CHANNELS.items()}
    assert rows
    misplaced = [
        (r["summary"], r["channel"])
        for r in rows
        if r["summary"] in places and r["channel"] not in places[r["summary"]]
    ]
    assert not misplaced, misplaced
