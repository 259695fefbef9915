"""customer profile

Revision ID: 698abf853c39
Revises:
Create Date: 2026-11-23 18:43:53.651001+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "698abf853c39"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram matching for partial name search (姓名模糊查询).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "branches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('head_office', 'branch', 'sub_branch')", name=op.f("ck_branches_kind")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["branches.id"], name=op.f("fk_branches_parent_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branches")),
        sa.UniqueConstraint("code", name=op.f("uq_branches_code")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'CNY'"), nullable=False),
        sa.CheckConstraint(
            "audience IN ('personal', 'corporate', 'any')", name=op.f("ck_products_audience")
        ),
        sa.CheckConstraint(
            "category IN ('deposit', 'time_deposit', 'loan', 'credit_card', 'debit_card', 'wealth', 'insurance', 'payment', 'cash_management')",
            name=op.f("ck_products_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "relationship_managers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("employee_no", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("grade BETWEEN 1 AND 4", name=op.f("ck_relationship_managers_grade")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_relationship_managers_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationship_managers")),
        sa.UniqueConstraint("employee_no", name=op.f("uq_relationship_managers_employee_no")),
    )
    op.create_index(
        op.f("ix_relationship_managers_branch_id"),
        "relationship_managers",
        ["branch_id"],
        unique=False,
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("home_branch_id", sa.BigInteger(), nullable=True),
        sa.Column("relationship_manager_id", sa.BigInteger(), nullable=True),
        sa.Column("preferred_channel", sa.String(length=20), nullable=True),
        sa.Column("preferred_language", sa.String(length=10), nullable=True),
        sa.Column("gender", sa.String(length=12), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("occupation", sa.String(length=100), nullable=True),
        sa.Column("employer", sa.String(length=200), nullable=True),
        sa.Column("income_band", sa.String(length=12), nullable=True),
        sa.Column("asset_band", sa.String(length=12), nullable=True),
        sa.Column("credit_status", sa.String(length=12), nullable=True),
        sa.Column("ownership_type", sa.String(length=20), nullable=True),
        sa.Column("business_scale", sa.String(length=10), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=10), nullable=True),
        sa.Column("asset_structure", sa.Text(), nullable=True),
        sa.Column("liability_sources", sa.Text(), nullable=True),
        sa.Column("financing_modes", sa.Text(), nullable=True),
        sa.Column("credit_record", sa.Text(), nullable=True),
        sa.Column("legal_representative_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "asset_band IN ('under_50k', '50k_500k', '500k_6m', 'over_6m')",
            name=op.f("ck_customers_asset_band"),
        ),
        sa.CheckConstraint(
            "business_scale IN ('micro', 'small', 'medium', 'large')",
            name=op.f("ck_customers_business_scale"),
        ),
        sa.CheckConstraint(
            "credit_status IN ('good', 'watch', 'defaulted', 'unknown')",
            name=op.f("ck_customers_credit_status"),
        ),
        sa.CheckConstraint(
            "gender IN ('female', 'male', 'undisclosed')", name=op.f("ck_customers_gender")
        ),
        sa.CheckConstraint(
            "income_band IN ('under_5k', '5k_10k', '10k_30k', '30k_100k', 'over_100k')",
            name=op.f("ck_customers_income_band"),
        ),
        sa.CheckConstraint(
            "kind = 'corporate' OR (ownership_type IS NULL AND business_scale IS NULL AND lifecycle_stage IS NULL AND legal_representative_id IS NULL)",
            name=op.f("ck_customers_personal_has_no_corporate_details"),
        ),
        sa.CheckConstraint(
            "kind = 'personal' OR (gender IS NULL AND birth_date IS NULL AND income_band IS NULL AND asset_band IS NULL)",
            name=op.f("ck_customers_corporate_has_no_personal_details"),
        ),
        sa.CheckConstraint("kind IN ('personal', 'corporate')", name=op.f("ck_customers_kind")),
        sa.CheckConstraint(
            "lifecycle_stage IN ('start_up', 'growth', 'mature', 'decline')",
            name=op.f("ck_customers_lifecycle_stage"),
        ),
        sa.CheckConstraint(
            "ownership_type IN ('state_owned', 'collective', 'private', 'foreign_invested', 'joint_stock', 'other')",
            name=op.f("ck_customers_ownership_type"),
        ),
        sa.CheckConstraint(
            "preferred_channel IN ('counter', 'call_center', 'mobile_app', 'web_banking', 'rm_visit')",
            name=op.f("ck_customers_preferred_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["home_branch_id"], ["branches.id"], name=op.f("fk_customers_home_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["legal_representative_id"],
            ["customers.id"],
            name=op.f("fk_customers_legal_representative_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["customers.id"], name=op.f("fk_customers_parent_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["relationship_manager_id"],
            ["relationship_managers.id"],
            name=op.f("fk_customers_relationship_manager_id_relationship_managers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_code")),
    )
    op.create_index(
        "ix_customers_display_name_trgm",
        "customers",
        ["display_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"display_name": "gin_trgm_ops"},
    )
    op.create_index(
        op.f("ix_customers_home_branch_id"), "customers", ["home_branch_id"], unique=False
    )
    op.create_index(op.f("ix_customers_parent_id"), "customers", ["parent_id"], unique=False)
    op.create_index(
        op.f("ix_customers_relationship_manager_id"),
        "customers",
        ["relationship_manager_id"],
        unique=False,
    )
    op.create_table(
        "contact_points",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("label", sa.String(length=30), nullable=True),
        sa.Column("is_preferred", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('phone', 'email', 'address')", name=op.f("ck_contact_points_kind")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contact_points_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_points")),
    )
    op.create_index(
        op.f("ix_contact_points_customer_id"), "contact_points", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_contact_points_kind_value", "contact_points", ["kind", "value"], unique=False
    )
    op.create_index(
        "uq_contact_points_preferred",
        "contact_points",
        ["customer_id", "kind"],
        unique=True,
        postgresql_where=sa.text("is_preferred"),
    )
    op.create_table(
        "corporate_contacts",
        sa.Column("corporate_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["corporate_id"],
            ["customers.id"],
            name=op.f("fk_corporate_contacts_corporate_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["customers.id"], name=op.f("fk_corporate_contacts_person_id_customers")
        ),
        sa.PrimaryKeyConstraint(
            "corporate_id", "person_id", "role", name=op.f("pk_corporate_contacts")
        ),
    )
    op.create_index(
        op.f("ix_corporate_contacts_person_id"), "corporate_contacts", ["person_id"], unique=False
    )
    op.create_table(
        "holdings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("credit_limit", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_on IS NOT NULL)",
            name=op.f("ck_holdings_closed_on_matches_status"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'dormant', 'closed')", name=op.f("ck_holdings_status")
        ),
        sa.CheckConstraint(
            "credit_limit IS NULL OR credit_limit >= 0", name=op.f("ck_holdings_credit_limit")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_holdings_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_holdings_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdings")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_holdings_source_ref")),
    )
    op.create_index(op.f("ix_holdings_customer_id"), "holdings", ["customer_id"], unique=False)
    op.create_index(op.f("ix_holdings_product_id"), "holdings", ["product_id"], unique=False)
    op.create_table(
        "identity_documents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column(
            "issuing_country", sa.String(length=2), server_default=sa.text("'CN'"), nullable=False
        ),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "type IN ('resident_id', 'passport', 'uscc')", name=op.f("ck_identity_documents_type")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_documents_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_documents")),
    )
    op.create_index(
        op.f("ix_identity_documents_customer_id"),
        "identity_documents",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        "uq_identity_documents_type_number", "identity_documents", ["type", "number"], unique=True
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_code", sa.String(length=40), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IN ('counter', 'call_center', 'mobile_app', 'web_banking', 'self_service', 'rm_visit', 'sms', 'email')",
            name=op.f("ck_interactions_channel"),
        ),
        sa.CheckConstraint(
            "kind IN ('inquiry', 'transaction', 'complaint', 'marketing_contact', 'service_request', 'follow_up')",
            name=op.f("ck_interactions_kind"),
        ),
        sa.CheckConstraint(
            "outcome IN ('resolved', 'pending', 'escalated', 'declined', 'no_contact')",
            name=op.f("ck_interactions_outcome"),
        ),
        sa.CheckConstraint("cost IS NULL OR cost >= 0", name=op.f("ck_interactions_cost")),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_interactions_satisfaction")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_interactions_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_interactions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(
        "ix_interactions_timeline",
        "interactions",
        ["customer_id", sa.literal_column("occurred_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "relationship_state_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=10), nullable=True),
        sa.Column("to_state", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_state IN ('normal', 'watch', 'doubtful', 'exit')",
            name=op.f("ck_relationship_state_changes_from_state"),
        ),
        sa.CheckConstraint(
            "to_state IN ('normal', 'watch', 'doubtful', 'exit')",
            name=op.f("ck_relationship_state_changes_to_state"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_relationship_state_changes_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationship_state_changes")),
    )
    op.create_index(
        "ix_relationship_state_changes_customer",
        "relationship_state_changes",
        ["customer_id", sa.literal_column("occurred_at DESC")],
        unique=False,
    )
    op.create_table(
        "relationship_states",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "state IN ('normal', 'watch', 'doubtful', 'exit')",
            name=op.f("ck_relationship_states_state"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_relationship_states_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_relationship_states")),
    )


def downgrade() -> None:
    op.drop_table("relationship_states")
    op.drop_index("ix_relationship_state_changes_customer", table_name="relationship_state_changes")
    op.drop_table("relationship_state_changes")
    op.drop_index("ix_interactions_timeline", table_name="interactions")
    op.drop_table("interactions")
    op.drop_index("uq_identity_documents_type_number", table_name="identity_documents")
    op.drop_index(op.f("ix_identity_documents_customer_id"), table_name="identity_documents")
    op.drop_table("identity_documents")
    op.drop_index(op.f("ix_holdings_product_id"), table_name="holdings")
    op.drop_index(op.f("ix_holdings_customer_id"), table_name="holdings")
    op.drop_table("holdings")
    op.drop_index(op.f("ix_corporate_contacts_person_id"), table_name="corporate_contacts")
    op.drop_table("corporate_contacts")
    op.drop_index(
        "uq_contact_points_preferred",
        table_name="contact_points",
        postgresql_where=sa.text("is_preferred"),
    )
    op.drop_index("ix_contact_points_kind_value", table_name="contact_points")
    op.drop_index(op.f("ix_contact_points_customer_id"), table_name="contact_points")
    op.drop_table("contact_points")
    op.drop_index(op.f("ix_customers_relationship_manager_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_parent_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_home_branch_id"), table_name="customers")
    op.drop_index(
        "ix_customers_display_name_trgm",
        table_name="customers",
        postgresql_using="gin",
        postgresql_ops={"display_name": "gin_trgm_ops"},
    )
    op.drop_table("customers")
    op.drop_index(op.f("ix_relationship_managers_branch_id"), table_name="relationship_managers")
    op.drop_table("relationship_managers")
    op.drop_table("products")
    op.drop_table("branches")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
