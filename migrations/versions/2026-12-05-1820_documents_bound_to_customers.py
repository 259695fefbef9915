"""documents_bound_to_customers

Identity document numbers are re-sealed with their customer in the AES-GCM associated data
(it held the document type alone), so a ciphertext copied into another customer's row no
longer opens. The keys are the service's own: the settings `quanjing migrate` runs with
(QUANJING_DATA_KEYS in production, the files under QUANJING_HOME in development). Batched,
in the migration's transaction: all rows or none.

Revision ID: 7c1d2b9e4f03
Revises: 653fce7096a1
Create Date: 2026-12-05 18:20:00+00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from api.db.document_crypto import document_context
from migrations.keys import migration_crypto

revision: str = "7c1d2b9e4f03"
down_revision: str | None = "653fce7096a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _type_only(doc_type: str, customer_id: int) -> bytes:
    return doc_type.encode()  # before this revision


def _reseal(
    opened_with: Callable[[str, int], bytes], sealed_with: Callable[[str, int], bytes]
) -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM identity_documents)")).scalar():
        return  # a new database: no keys needed
    crypto = migration_crypto()
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, customer_id, type, number_key_id, number_ciphertext "
                "FROM identity_documents WHERE id > :after ORDER BY id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        updates = [
            {
                "id": row.id,
                "ciphertext": crypto.encrypt(
                    crypto.decrypt(
                        row.number_key_id,
                        bytes(row.number_ciphertext),
                        opened_with(row.type, row.customer_id),
                    ),
                    sealed_with(row.type, row.customer_id),
                ),
                "key_id": crypto.active,
            }
            for row in rows
        ]
        bind.execute(
            sa.text(
                "UPDATE identity_documents SET number_ciphertext = :ciphertext, "
                "number_key_id = :key_id WHERE id = :id"
            ),
            updates,
        )
        after = rows[-1].id


def upgrade() -> None:
    _reseal(_type_only, document_context)


def downgrade() -> None:
    _reseal(document_context, _type_only)
