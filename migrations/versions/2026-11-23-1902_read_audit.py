"""read audit

Revision ID: e9cdf104a74f
Revises: 698abf853c39
Create Date: 2026-11-23 19:02:18.839795+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e9cdf104a74f"
down_revision: str | None = "698abf853c39"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=True),
        sa.Column("customer_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
    )
    op.create_index(
        "ix_audit_records_customer_ids",
        "audit_records",
        ["customer_ids"],
        unique=False,
        postgresql_using="gin",
    )
    # Append-only, enforced by the database: no role, the owner included, can rewrite history
    # through ordinary statements. (Dropping the trigger is a migration, reviewed like code.)
    op.execute(
        """
        CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_records_no_update_or_delete BEFORE UPDATE OR DELETE "
        "ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE "
        "ON audit_records FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only()"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_records FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_records_no_truncate ON audit_records")
    op.execute("DROP TRIGGER audit_records_no_update_or_delete ON audit_records")
    op.execute("DROP FUNCTION audit_records_append_only()")
    op.drop_index(
        "ix_audit_records_customer_ids", table_name="audit_records", postgresql_using="gin"
    )
    op.drop_table("audit_records")
