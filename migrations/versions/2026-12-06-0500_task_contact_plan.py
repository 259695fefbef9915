"""task contact plan: the method a contact task plans (issue 23, contact planning)

Revision ID: 3c1d5e7a9b20
Revises: ada3b7ef1370
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1d5e7a9b20"
down_revision: str | None = "ada3b7ef1370"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = (
    "counter",
    "call_center",
    "mobile_app",
    "web_banking",
    "self_service",
    "rm_visit",
    "sms",
    "email",
)


def upgrade() -> None:
    # Null for tasks planned before, and for tasks that are not contacts (a complaint is
    # handled however it came in).
    op.add_column("tasks", sa.Column("planned_channel", sa.String(length=20), nullable=True))
    allowed = ", ".join(f"'{c}'" for c in CHANNELS)
    op.create_check_constraint(
        op.f("ck_tasks_planned_channel"), "tasks", f"planned_channel IN ({allowed})"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_tasks_planned_channel"), "tasks", type_="check")
    op.drop_column("tasks", "planned_channel")
