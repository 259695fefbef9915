"""profile_versions: a counter per customer, bumped by triggers, for the response cache

Revision ID: db2dc0a4c237
Revises: 03eaf09cb476
Create Date: 2026-11-23 21:36:33.039139+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "db2dc0a4c237"
down_revision: str | None = "03eaf09cb476"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Tables whose rows a profile shows, and the column naming the customer they belong to.
PROFILE_TABLES = {
    "customers": "id",
    "contact_points": "customer_id",
    "identity_documents": "customer_id",
    "corporate_contacts": "corporate_id",
    "holdings": "customer_id",
    "interactions": "customer_id",
    "relationship_states": "customer_id",
    "relationship_state_changes": "customer_id",
    "state_change_proposals": "customer_id",
    "tasks": "customer_id",
    "consents": "customer_id",
    "alerts": "customer_id",
}
# Reference data every profile shows (names of branches, RMs, products): counter 0.
REFERENCE_TABLES = ("branches", "relationship_managers", "products")

# Statement-level, with transition tables: one upsert per statement, however many rows (COPY
# and set-based writes included), in the writer's own transaction. Rows are upserted in
# customer order so concurrent multi-customer writes cannot deadlock on the counters.
BUMP = """
CREATE FUNCTION bump_profile_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text := TG_ARGV[0];
    source text;
BEGIN
    source := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %1$I AS id FROM changed_new', col)
        WHEN 'DELETE' THEN format('SELECT %1$I AS id FROM changed_old', col)
        ELSE format('SELECT %1$I AS id FROM changed_new UNION SELECT %1$I FROM changed_old', col)
    END;
    EXECUTE format(
        'INSERT INTO profile_versions (customer_id, version) '
        'SELECT DISTINCT id, 1 FROM (%s) changed WHERE id IS NOT NULL ORDER BY id '
        'ON CONFLICT (customer_id) DO UPDATE SET version = profile_versions.version + 1',
        source);
    RETURN NULL;
END $$
"""
BUMP_REFERENCE = """
CREATE FUNCTION bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO profile_versions (customer_id, version) VALUES (0, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = profile_versions.version + 1;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "profile_versions",
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_profile_versions")),
    )

    op.execute(BUMP)
    op.execute(BUMP_REFERENCE)
    for table, column in PROFILE_TABLES.items():
        op.execute(
            f"CREATE TRIGGER profile_version_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT "
            f"EXECUTE FUNCTION bump_profile_versions('{column}')"
        )
        op.execute(
            f"CREATE TRIGGER profile_version_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new FOR EACH STATEMENT "
            f"EXECUTE FUNCTION bump_profile_versions('{column}')"
        )
        op.execute(
            f"CREATE TRIGGER profile_version_delete AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT "
            f"EXECUTE FUNCTION bump_profile_versions('{column}')"
        )
    for table in REFERENCE_TABLES:
        op.execute(
            f"CREATE TRIGGER reference_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version()"
        )


def downgrade() -> None:
    for table in REFERENCE_TABLES:
        op.execute(f"DROP TRIGGER reference_version ON {table}")
    for table in PROFILE_TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER profile_version_{event} ON {table}")
    op.execute("DROP FUNCTION bump_reference_version()")
    op.execute("DROP FUNCTION bump_profile_versions()")
    op.drop_table("profile_versions")
