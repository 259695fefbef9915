"""customer value, rm assignments, ownership claims, segments

Revision ID: ec1fc854478e
Revises: db2dc0a4c237
Create Date: 2026-11-24 01:02:54.575979+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ec1fc854478e"
down_revision: str | None = "db2dc0a4c237"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The documented defaults (domain/value/rates.py, docs/value.md) as of this revision: a fresh
# bank starts with them and changes them through setValueRate.
CATEGORY_RATES = [
    ("deposit", "0.0150", "2.00"),
    ("time_deposit", "0.0100", "1.00"),
    ("debit_card", "0.0150", "1.50"),
    ("cash_management", "0.0120", "20.00"),
    ("loan", "0.0250", "8.00"),
    ("credit_card", "0.0800", "5.00"),
    ("wealth", "0.0080", "3.00"),
    ("insurance", "0.0100", "2.00"),
    ("payment", "0", "0.50"),
]
CHANNEL_COSTS = [
    ("counter", "25.00"),
    ("call_center", "8.00"),
    ("rm_visit", "120.00"),
    ("self_service", "2.00"),
    ("mobile_app", "0.20"),
    ("web_banking", "0.30"),
    ("sms", "0.05"),
    ("email", "0.02"),
]
OLD_KINDS = "counterparty_kind IN ('own_account', 'person', 'company', 'other_bank', 'merchant', 'government', 'cash')"
NEW_KINDS = "counterparty_kind IN ('own_account', 'person', 'company', 'other_bank', 'merchant', 'government', 'cash', 'bank_fee')"


def _swap_kinds(condition: str) -> None:
    op.drop_constraint(op.f("ck_fund_movements_counterparty_kind"), "fund_movements", type_="check")
    op.create_check_constraint("counterparty_kind", "fund_movements", condition)


def upgrade() -> None:
    op.create_table(
        "category_value_rates",
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("margin_rate", sa.Numeric(precision=8, scale=6), nullable=False),
        sa.Column("servicing_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('deposit', 'time_deposit', 'loan', 'credit_card', 'debit_card', 'wealth', 'insurance', 'payment', 'cash_management')",
            name=op.f("ck_category_value_rates_category"),
        ),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_category_value_rates")),
    )
    op.create_table(
        "channel_costs",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IN ('counter', 'call_center', 'mobile_app', 'web_banking', 'self_service', 'rm_visit', 'sms', 'email')",
            name=op.f("ck_channel_costs_channel"),
        ),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_costs")),
    )
    op.create_table(
        "customer_values",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("margin_revenue", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("fee_revenue", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("interaction_cost", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("servicing_cost", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("contribution", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("previous", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("prior", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("corporate_growth", sa.Boolean(), nullable=False),
        sa.Column("tier", sa.String(length=10), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tier IN ('negative', 'low', 'potential', 'high')", name=op.f("ck_customer_values_tier")
        ),
        sa.PrimaryKeyConstraint("period", "customer_id", name=op.f("pk_customer_values")),
    )
    op.create_index(
        "ix_customer_values_customer_period",
        "customer_values",
        ["customer_id", sa.literal_column("period DESC")],
        unique=False,
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "value_channel_lines",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("interactions", sa.BigInteger(), nullable=False),
        sa.Column("recorded_cost", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("defaulted", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "customer_id", "channel", name=op.f("pk_value_channel_lines")
        ),
    )
    op.create_table(
        "value_periods",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("high_share", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("high_cutoff", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_value_periods")),
    )
    op.create_table(
        "value_product_lines",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("holdings", sa.SmallInteger(), nullable=False),
        sa.Column("average_balance", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("margin_rate", sa.Numeric(precision=8, scale=6), nullable=False),
        sa.Column("margin_revenue", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("fee_revenue", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("servicing_cost", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "customer_id", "product_id", name=op.f("pk_value_product_lines")
        ),
    )
    op.create_table(
        "product_value_rates",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("margin_rate", sa.Numeric(precision=8, scale=6), nullable=True),
        sa.Column("servicing_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_value_rates_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_value_rates")),
    )
    op.create_table(
        "ownership_claims",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'granted', 'rejected', 'withdrawn')",
            name=op.f("ck_ownership_claims_status"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_ownership_claims_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_ownership_claims_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_claims")),
    )
    op.create_index(
        op.f("ix_ownership_claims_customer_id"), "ownership_claims", ["customer_id"], unique=False
    )
    op.create_index(
        "uq_ownership_claims_open",
        "ownership_claims",
        ["customer_id", "branch_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "rm_assignments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("from_rm_id", sa.BigInteger(), nullable=True),
        sa.Column("to_rm_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_rm_assignments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["from_rm_id"],
            ["relationship_managers.id"],
            name=op.f("fk_rm_assignments_from_rm_id_relationship_managers"),
        ),
        sa.ForeignKeyConstraint(
            ["to_rm_id"],
            ["relationship_managers.id"],
            name=op.f("fk_rm_assignments_to_rm_id_relationship_managers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rm_assignments")),
    )
    op.create_index(
        "ix_rm_assignments_customer_occurred",
        "rm_assignments",
        ["customer_id", sa.literal_column("occurred_at DESC")],
        unique=False,
    )
    op.create_table(
        "rm_team_members",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("rm_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=60), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_rm_team_members_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["rm_id"],
            ["relationship_managers.id"],
            name=op.f("fk_rm_team_members_rm_id_relationship_managers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "rm_id", name=op.f("pk_rm_team_members")),
    )
    op.create_index(op.f("ix_rm_team_members_rm_id"), "rm_team_members", ["rm_id"], unique=False)

    op.bulk_insert(
        sa.table(
            "category_value_rates",
            sa.column("category", sa.String),
            sa.column("margin_rate", sa.Numeric),
            sa.column("servicing_cost", sa.Numeric),
            sa.column("updated_by", sa.String),
        ),
        [
            {"category": c, "margin_rate": m, "servicing_cost": s, "updated_by": "migration"}
            for c, m, s in CATEGORY_RATES
        ],
    )
    op.bulk_insert(
        sa.table(
            "channel_costs",
            sa.column("channel", sa.String),
            sa.column("unit_cost", sa.Numeric),
            sa.column("updated_by", sa.String),
        ),
        [{"channel": c, "unit_cost": u, "updated_by": "migration"} for c, u in CHANNEL_COSTS],
    )
    _swap_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM fund_movements WHERE counterparty_kind = 'bank_fee'")
    _swap_kinds(OLD_KINDS)
    op.drop_index(op.f("ix_rm_team_members_rm_id"), table_name="rm_team_members")
    op.drop_table("rm_team_members")
    op.drop_index("ix_rm_assignments_customer_occurred", table_name="rm_assignments")
    op.drop_table("rm_assignments")
    op.drop_index(
        "uq_ownership_claims_open",
        table_name="ownership_claims",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index(op.f("ix_ownership_claims_customer_id"), table_name="ownership_claims")
    op.drop_table("ownership_claims")
    op.drop_table("product_value_rates")
    op.drop_table("value_product_lines")
    op.drop_table("value_periods")
    op.drop_table("value_channel_lines")
    op.drop_table("segments")
    op.drop_index("ix_customer_values_customer_period", table_name="customer_values")
    op.drop_table("customer_values")
    op.drop_table("channel_costs")
    op.drop_table("category_value_rates")
