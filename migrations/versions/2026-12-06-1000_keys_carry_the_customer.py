"""keys carry the customer: customer-owned tables keyed (id, customer_id), the foreign keys
between them co-located, alerts' dedupe key unique with its customer — a schema ready to shard
by customer (issue 25, docs/scaling.md stage 5)

`id` stays first in each key, so a lookup by id alone still uses the primary key's index, and
`customer_id` in it lets each row's shard be known and uniqueness be checked within one shard.
The downgrade restores the keys on `id` alone and the single-column foreign keys.

Revision ID: d7e9f1a3b465
Revises: c6d8e0f2a354
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d7e9f1a3b465"
down_revision: str | None = "c6d8e0f2a354"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "alerts",
    "consents",
    "contact_points",
    "customer_changes",
    "customer_source_keys",
    "fund_movements",
    "holdings",
    "identity_documents",
    "interactions",
    "legal_holds",
    "ownership_claims",
    "relationship_state_changes",
    "rm_assignments",
    "state_change_proposals",
    "tasks",
)
# (table, column, referred table): references between one customer's rows.
REFERENCES = (
    ("alerts", "task_id", "tasks"),
    ("fund_movements", "holding_id", "holdings"),
    ("tasks", "result_interaction_id", "interactions"),
    ("tasks", "source_interaction_id", "interactions"),
)


def _drop_references() -> None:
    for table, column, referred in REFERENCES:
        op.drop_constraint(op.f(f"fk_{table}_{column}_{referred}"), table, type_="foreignkey")


def _keys(columns: list[str], dedupe: list[str]) -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        op.create_primary_key(op.f(f"pk_{table}"), table, columns)
    op.drop_constraint(op.f("uq_alerts_dedupe_key"), "alerts", type_="unique")
    op.create_unique_constraint(op.f("uq_alerts_dedupe_key"), "alerts", dedupe)


def upgrade() -> None:
    _drop_references()
    _keys(["id", "customer_id"], ["dedupe_key", "customer_id"])
    for table, column, referred in REFERENCES:
        op.create_foreign_key(
            op.f(f"fk_{table}_{column}_{referred}"),
            table,
            referred,
            [column, "customer_id"],
            ["id", "customer_id"],
            # Checked at commit: a merge moves both sides to the survivor, a table at a time.
            deferrable=True,
            initially="DEFERRED",
        )


def downgrade() -> None:
    _drop_references()
    _keys(["id"], ["dedupe_key"])
    for table, column, referred in REFERENCES:
        op.create_foreign_key(
            op.f(f"fk_{table}_{column}_{referred}"), table, referred, [column], ["id"]
        )
