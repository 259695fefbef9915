"""state change proposals

Revision ID: f50f40d326f7
Revises: cf3f5bafafec
Create Date: 2026-11-23 20:26:01.965277+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f50f40d326f7"
down_revision: str | None = "cf3f5bafafec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "state_change_proposals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=10), nullable=False),
        sa.Column("to_state", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("base_version", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "from_state IN ('normal', 'watch', 'doubtful', 'exit')",
            name=op.f("ck_state_change_proposals_from_state"),
        ),
        sa.CheckConstraint(
            "reason_code IN ('ONBOARDED', 'OVERDUE_PAYMENT', 'BALANCE_DROP', 'COMPLAINTS', 'INDUSTRY_DECLINE', 'FRAUD_SUSPICION', 'RECOVERED', 'EXIT_PLAN', 'REENTRY', 'OTHER')",
            name=op.f("ck_state_change_proposals_reason_code"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_state_change_proposals_status"),
        ),
        sa.CheckConstraint(
            "to_state IN ('normal', 'watch', 'doubtful', 'exit')",
            name=op.f("ck_state_change_proposals_to_state"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_state_change_proposals_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_change_proposals")),
    )
    op.create_index(
        op.f("ix_state_change_proposals_customer_id"),
        "state_change_proposals",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        "uq_state_change_proposals_pending",
        "state_change_proposals",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_state_change_proposals_pending",
        table_name="state_change_proposals",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        op.f("ix_state_change_proposals_customer_id"), table_name="state_change_proposals"
    )
    op.drop_table("state_change_proposals")
