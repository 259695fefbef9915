"""encrypt document numbers

Revision ID: 30015904b495
Revises: e9cdf104a74f
Create Date: 2026-11-23 19:10:04.000465+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.keys import migration_crypto

revision: str = "30015904b495"
down_revision: str | None = "e9cdf104a74f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# At this revision a number's associated data is its type alone (a later revision adds the
# customer), so the numbers are sealed here with the crypto's primitives, not its `seal`.
def upgrade() -> None:
    op.add_column("identity_documents", sa.Column("number_ciphertext", sa.LargeBinary()))
    op.add_column("identity_documents", sa.Column("number_key_id", sa.String(length=20)))
    op.add_column("identity_documents", sa.Column("number_hmac", sa.LargeBinary()))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, type, number FROM identity_documents")).all()
    if rows:
        crypto = migration_crypto()
        for row in rows:
            bind.execute(
                sa.text(
                    "UPDATE identity_documents SET number_ciphertext = :c, number_key_id = :k, "
                    "number_hmac = :h WHERE id = :id"
                ),
                {
                    "c": crypto.encrypt(row.number, row.type.encode()),
                    "k": crypto.active,
                    "h": crypto.lookup_hash(row.type, row.number),
                    "id": row.id,
                },
            )
    for column in ("number_ciphertext", "number_key_id", "number_hmac"):
        op.alter_column("identity_documents", column, nullable=False)
    op.drop_index(op.f("uq_identity_documents_type_number"), table_name="identity_documents")
    op.create_index(
        "uq_identity_documents_type_number_hmac",
        "identity_documents",
        ["type", "number_hmac"],
        unique=True,
    )
    op.drop_column("identity_documents", "number")


def downgrade() -> None:
    op.add_column("identity_documents", sa.Column("number", sa.VARCHAR(length=40)))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, type, number_key_id, number_ciphertext FROM identity_documents")
    ).all()
    if rows:
        crypto = migration_crypto()
        for row in rows:
            number = crypto.decrypt(row.number_key_id, row.number_ciphertext, row.type.encode())
            bind.execute(
                sa.text("UPDATE identity_documents SET number = :n WHERE id = :id"),
                {"n": number, "id": row.id},
            )
    op.alter_column("identity_documents", "number", nullable=False)
    op.drop_index("uq_identity_documents_type_number_hmac", table_name="identity_documents")
    op.create_index(
        op.f("uq_identity_documents_type_number"),
        "identity_documents",
        ["type", "number"],
        unique=True,
    )
    op.drop_column("identity_documents", "number_hmac")
    op.drop_column("identity_documents", "number_key_id")
    op.drop_column("identity_documents", "number_ciphertext")
