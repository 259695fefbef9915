"""campaign runs: frozen membership, contacts, outcomes, responses; the contact policy and
the do-not-contact list; interactions and tasks carry their campaign (issue 24)

Revision ID: c6d8e0f2a354
Revises: b5c7d9e1f243
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c6d8e0f2a354"
down_revision: str | None = "b5c7d9e1f243"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = (
    "erased",
    "legal_hold",
    "doubtful",
    "exit",
    "open_complaint",
    "do_not_contact",
    "no_consent",
    "unreachable",
    "frequency_cap",
    "eligible",
)
OUTCOMES_BEFORE = ("resolved", "pending", "escalated", "declined", "no_contact")
OUTCOMES_AFTER = (*OUTCOMES_BEFORE, "accepted")


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _interaction_outcomes(values: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_interactions_outcome"), "interactions", type_="check")
    op.create_check_constraint(
        op.f("ck_interactions_outcome"), "interactions", f"outcome IN ({_quoted(values)})"
    )


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("launched_at", sa.DateTime(timezone=True)))
    op.add_column("campaigns", sa.Column("attributed_at", sa.DateTime(timezone=True)))
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("arm", sa.SmallInteger(), nullable=False),
        sa.Column("control", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("rm_id", sa.BigInteger(), nullable=True),
        sa.Column("tier", sa.String(length=10), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.Integer(), nullable=True),
        sa.Column("monetary", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("past_contacts", sa.Integer(), nullable=True),
        sa.Column("past_responses", sa.Integer(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("contribution_before", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("contribution_after", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("interaction_id", sa.BigInteger(), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.String(length=10), nullable=True),
        sa.Column("response_holding_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            f"reason IN ({_quoted(REASONS)})", name=op.f("ck_campaign_members_reason")
        ),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'declined', 'no_answer')",
            name=op.f("ck_campaign_members_outcome"),
        ),
        sa.CheckConstraint(
            "response IN ('opened', 'accepted')", name=op.f("ck_campaign_members_response")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_members_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_members")),
    )
    # The contact list, best first (tier, then response score).
    op.create_index(
        "ix_campaign_members_priority",
        "campaign_members",
        ["campaign_id", "priority", "customer_id"],
        postgresql_where=sa.text("reason = 'eligible' AND NOT control"),
    )
    # The frequency cap and the past-response score read a customer's treated memberships.
    op.create_index(
        "ix_campaign_members_treated",
        "campaign_members",
        ["customer_id"],
        postgresql_where=sa.text("reason = 'eligible' AND NOT control"),
    )
    op.create_table(
        "contact_policies",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("max_contacts", sa.SmallInteger(), nullable=False),
        sa.Column("window_days", sa.SmallInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_contact_policies")),
    )
    op.execute(
        "INSERT INTO contact_policies (name, max_contacts, window_days, updated_by) "
        "VALUES ('marketing', 4, 30, 'migration')"
    )
    op.create_table(
        "contact_suppressions",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column(
            "placed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_contact_suppressions_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_contact_suppressions")),
    )
    op.add_column("interactions", sa.Column("campaign_id", sa.BigInteger(), nullable=True))
    op.add_column("interactions", sa.Column("campaign_arm", sa.SmallInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_interactions_campaign_id_campaigns"),
        "interactions",
        "campaigns",
        ["campaign_id"],
        ["id"],
    )
    # The frequency cap counts marketing contacts recorded outside campaigns in its window.
    op.create_index(
        "ix_interactions_marketing_outside_campaigns",
        "interactions",
        ["occurred_at"],
        postgresql_where=sa.text("kind = 'marketing_contact' AND campaign_id IS NULL"),
    )
    _interaction_outcomes(OUTCOMES_AFTER)
    op.add_column("tasks", sa.Column("campaign_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_tasks_campaign_id_campaigns"), "tasks", "campaigns", ["campaign_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_tasks_campaign_id_campaigns"), "tasks", type_="foreignkey")
    op.drop_column("tasks", "campaign_id")
    op.execute("UPDATE interactions SET outcome = 'resolved' WHERE outcome = 'accepted'")
    _interaction_outcomes(OUTCOMES_BEFORE)
    op.drop_index("ix_interactions_marketing_outside_campaigns", table_name="interactions")
    op.drop_constraint(
        op.f("fk_interactions_campaign_id_campaigns"), "interactions", type_="foreignkey"
    )
    op.drop_column("interactions", "campaign_arm")
    op.drop_column("interactions", "campaign_id")
    op.drop_table("contact_suppressions")
    op.drop_table("contact_policies")
    op.drop_index("ix_campaign_members_treated", table_name="campaign_members")
    op.drop_index("ix_campaign_members_priority", table_name="campaign_members")
    op.drop_table("campaign_members")
    op.drop_column("campaigns", "attributed_at")
    op.drop_column("campaigns", "launched_at")
