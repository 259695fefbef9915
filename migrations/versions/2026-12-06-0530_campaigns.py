"""campaigns: plans, their arms, and their lifecycle (issue 24)

Revision ID: b5c7d9e1f243
Revises: 9a4b6c8e0f32
Create Date: 2026-12-06 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b5c7d9e1f243"
down_revision: str | None = "9a4b6c8e0f32"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("segment_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("holdout_share", sa.Numeric(precision=6, scale=5), nullable=False),
        sa.Column("budget", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("cost_per_contact", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("planned_contacts", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('offer', 'product_notice')", name=op.f("ck_campaigns_kind")),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'running', 'completed', 'cancelled')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_arms",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("share", sa.Numeric(precision=6, scale=5), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("offer_product_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('rm_visit', 'call_center', 'counter', 'app_push', 'sms', 'email')",
            name=op.f("ck_campaign_arms_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_arms_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "position", name=op.f("pk_campaign_arms")),
    )


def downgrade() -> None:
    op.drop_table("campaign_arms")
    op.drop_table("campaigns")
