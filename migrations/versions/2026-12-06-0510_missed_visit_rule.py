"""missed visit rule: key customers' visit calendars as a detection rule (issue 23)

Revision ID: 7e2f4a6c8d10
Revises: 3c1d5e7a9b20
Create Date: 2026-12-06 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from domain.detection.rules import RuleKind, default_rules

revision: str = "7e2f4a6c8d10"
down_revision: str | None = "3c1d5e7a9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "large_fund_movement",
    "balance_drop",
    "product_closure",
    "complaint",
    "silence",
    "birthday",
    "industry_decline",
)
AFTER = (*BEFORE, "missed_visit")


def _checks(kinds: Sequence[str]) -> None:
    allowed = ", ".join(f"'{k}'" for k in kinds)
    op.drop_constraint(op.f("ck_detection_rules_kind"), "detection_rules", type_="check")
    op.create_check_constraint(
        op.f("ck_detection_rules_kind"), "detection_rules", f"kind IN ({allowed})"
    )
    op.drop_constraint(op.f("ck_alerts_rule"), "alerts", type_="check")
    op.create_check_constraint(op.f("ck_alerts_rule"), "alerts", f"rule IN ({allowed})")


def upgrade() -> None:
    _checks(AFTER)
    # The documented default (domain/detection/default_rules.json), unless a rule is there.
    (rule,) = [r for r in default_rules() if r.kind is RuleKind.MISSED_VISIT]
    table = sa.table(
        "detection_rules",
        sa.column("kind", sa.String),
        sa.column("enabled", sa.Boolean),
        sa.column("severity", sa.String),
        sa.column("cooldown_hours", sa.BigInteger),
        sa.column("thresholds", postgresql.JSONB),
        sa.column("updated_by", sa.String),
    )
    op.execute(
        postgresql.insert(table)
        .values(
            kind=rule.kind.value,
            enabled=rule.enabled,
            severity=rule.severity.value,
            cooldown_hours=rule.cooldown_hours,
            thresholds={k: dict(v) for k, v in rule.thresholds.items()},
            updated_by="defaults",
        )
        .on_conflict_do_nothing(index_elements=["kind"])
    )


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE rule = 'missed_visit'")
    op.execute("DELETE FROM detection_rules WHERE kind = 'missed_visit'")
    _checks(BEFORE)
