"""value_peer_products

Revision ID: 653fce7096a1
Revises: ec1fc854478e
Create Date: 2026-11-24 01:14:44.246105+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "653fce7096a1"
down_revision: str | None = "ec1fc854478e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "value_peer_products",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=10), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("holders", sa.BigInteger(), nullable=False),
        sa.Column("peers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "kind", "tier", "product_id", name=op.f("pk_value_peer_products")
        ),
    )


def downgrade() -> None:
    op.drop_table("value_peer_products")
