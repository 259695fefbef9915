"""`quanjing rotate-keys`: bring everything sealed or hashed under the active keys, in batches.

- document numbers re-encrypted under the active data key (QUANJING_DATA_KEYS' first);
- webhook signing secrets re-sealed under it too;
- document lookup hashes recomputed under the active lookup key (QUANJING_LOOKUP_KEY's first),
  with what was derived from them: identity resolution's blocking keys, and the fingerprint of
  every steward's decision that still holds (else "not the same" pairs would come back).

Rotation: put the new key first (keep the old ones after it), restart, run `quanjing
rotate-keys`, then drop the old key and restart again. Until the run ends the old keys still
open and find what they sealed (every lookup key is tried), so the service runs on meanwhile.
Each batch is its own transaction; a run that stops is simply run again.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import LargeBinary, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.db.identity import pair_fingerprint
from api.db.webhooks import SECRET_CONTEXT


async def rotate_document_keys(database_url: str, crypto: DocumentCrypto, batch: int = 1000) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    rotated = 0
    try:
        while True:
            # Each batch is its own transaction: a long rotation never holds locks for long,
            # and an interrupted one resumes where it stopped.
            async with conn.transaction():
                rows = await conn.fetch(
                    "SELECT id, customer_id, type, number_key_id, number_ciphertext "
                    "FROM identity_documents "
                    "WHERE number_key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    crypto.active,
                    batch,
                )
                if not rows:
                    return rotated
                updates = []
                for row in rows:
                    number = crypto.open(
                        row["type"],
                        row["number_key_id"],
                        row["number_ciphertext"],
                        row["customer_id"],
                    )
                    sealed = crypto.seal(row["type"], number, row["customer_id"])
                    updates.append((sealed.ciphertext, sealed.key_id, row["id"]))
                await conn.executemany(
                    "UPDATE identity_documents SET number_ciphertext = $1, number_key_id = $2 "
                    "WHERE id = $3",
                    updates,
                )
                rotated += len(updates)
    finally:
        await conn.close()


async def reseal_webhook_secrets(engine: AsyncEngine, crypto: DocumentCrypto) -> int:
    """Webhook signing secrets under the active data key (a handful of rows: one pass)."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, secret_key_id, secret_ciphertext FROM webhook_subscriptions "
                    "WHERE secret_key_id <> :active FOR UPDATE"
                ),
                {"active": crypto.active},
            )
        ).all()
        for row in rows:
            secret = crypto.open_secret(SECRET_CONTEXT, row.secret_key_id, row.secret_ciphertext)
            sealed, key_id = crypto.seal_secret(SECRET_CONTEXT, secret)
            await conn.execute(
                text(
                    "UPDATE webhook_subscriptions SET secret_ciphertext = :c, secret_key_id = :k "
                    "WHERE id = :id"
                ),
                {"c": sealed, "k": key_id, "id": row.id},
            )
    return len(rows)


_DOCUMENTS = text(
    "SELECT id, customer_id, type, number_key_id, number_ciphertext, number_hmac "
    "FROM identity_documents WHERE id > :last ORDER BY id LIMIT :n FOR UPDATE"
)
_REHASH = text(
    "UPDATE identity_documents d SET number_hmac = u.hash "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS bytea[])) AS u(id, hash) "
    "WHERE d.id = u.id"
).bindparams(bindparam("hashes", type_=ARRAY(LargeBinary)))
# Identity resolution's blocking keys name the hash: they move with it.
_REKEY = text(
    "UPDATE customer_match_keys k SET key = u.new "
    "FROM unnest(CAST(:customers AS bigint[]), CAST(:old AS text[]), CAST(:new AS text[])) "
    "AS u(customer_id, old, new) WHERE k.customer_id = u.customer_id AND k.key = u.old"
)
_DECIDED = text(
    "SELECT id, left_id, right_id, decided_fingerprint FROM match_candidates "
    "WHERE decided_fingerprint IS NOT NULL "
    "AND (left_id = ANY(CAST(:ids AS bigint[])) OR right_id = ANY(CAST(:ids AS bigint[])))"
)


async def rotate_lookup_hashes(
    engine: AsyncEngine, crypto: DocumentCrypto, batch: int = 1000
) -> int:
    """Recompute every document's lookup hash under the active lookup key; the documents whose
    hash changed. A scan of the whole table (the hash does not name its key): rare, resumable."""
    last, rotated = 0, 0
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(_DOCUMENTS, {"last": last, "n": batch})).all()
            if not rows:
                return rotated
            last = rows[-1].id
            stale = []
            for row in rows:
                number = crypto.open(
                    row.type, row.number_key_id, row.number_ciphertext, row.customer_id
                )
                fresh = crypto.lookup_hash(row.type, number)
                if fresh != row.number_hmac:
                    stale.append((row, fresh))
            if not stale:
                continue
            customers = sorted({row.customer_id for row, _ in stale})
            # Decisions that hold now (their fingerprint is the pair's) must hold after.
            holding = [
                d
                for d in (await conn.execute(_DECIDED, {"ids": customers})).all()
                if await pair_fingerprint(conn, d.left_id, d.right_id) == d.decided_fingerprint
            ]
            # Set-based, two statements per batch whatever its size.
            await conn.execute(
                _REHASH,
                {"ids": [row.id for row, _ in stale], "hashes": [fresh for _, fresh in stale]},
            )
            await conn.execute(
                _REKEY,
                {
                    "customers": [row.customer_id for row, _ in stale],
                    "old": [f"doc:{row.type}:{row.number_hmac.hex()}" for row, _ in stale],
                    "new": [f"doc:{row.type}:{fresh.hex()}" for row, fresh in stale],
                },
            )
            for decided in holding:
                await conn.execute(
                    text("UPDATE match_candidates SET decided_fingerprint = :f WHERE id = :id"),
                    {
                        "f": await pair_fingerprint(conn, decided.left_id, decided.right_id),
                        "id": decided.id,
                    },
                )
            rotated += len(stale)
