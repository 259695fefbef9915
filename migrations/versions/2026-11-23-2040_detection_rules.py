"""detection rules

Revision ID: cfb2c870f212
Revises: f50f40d326f7
Create Date: 2026-11-23 20:40:50.695304+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from domain.detection.rules import default_rules

revision: str = "cfb2c870f212"
down_revision: str | None = "f50f40d326f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


KINDS = (
    "large_fund_movement",
    "balance_drop",
    "product_closure",
    "complaint",
    "silence",
    "birthday",
    "industry_decline",
)


def upgrade() -> None:
    op.create_table(
        "detection_rules",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("cooldown_hours", sa.BigInteger(), nullable=False),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('large_fund_movement', 'balance_drop', 'product_closure', 'complaint', 'silence', 'birthday', 'industry_decline')",
            name=op.f("ck_detection_rules_kind"),
        ),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high')", name=op.f("ck_detection_rules_severity")
        ),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_detection_rules")),
    )
    # Seed the documented defaults (domain/detection/default_rules.json). The file is read at
    # migration time on purpose: a fresh database gets the defaults as documented now; existing
    # databases keep their tuned rules (this runs once).
    table = sa.table(
        "detection_rules",
        sa.column("kind", sa.String),
        sa.column("enabled", sa.Boolean),
        sa.column("severity", sa.String),
        sa.column("cooldown_hours", sa.BigInteger),
        sa.column("thresholds", postgresql.JSONB),
        sa.column("updated_by", sa.String),
    )
    op.bulk_insert(
        table,
        [
            {
                "kind": r.kind.value,
                "enabled": r.enabled,
                "severity": r.severity.value,
                "cooldown_hours": r.cooldown_hours,
                "thresholds": {k: dict(v) for k, v in r.thresholds.items()},
                "updated_by": "defaults",
            }
            for r in default_rules()
            # The kinds this revision knows (its CHECK above); later kinds are seeded by the
            # revisions that add them.
            if r.kind.value in KINDS
        ],
    )


def downgrade() -> None:
    op.drop_table("detection_rules")
