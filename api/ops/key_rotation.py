"""Re-encrypt identity document numbers under the active data key, in batches.

Rotation: put the new key first in QUANJING_DATA_KEYS (keep the old ones after it), restart,
run `quanjing rotate-keys`, then drop the old key. Lookup hashes do not change.
"""

from __future__ import annotations

import asyncpg

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn


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
