"""SqlDetectionRuleStore: the rules table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.tables import DetectionRuleRow
from domain.detection.rules import DetectionRule, RuleKind, Severity

rules_table = DetectionRuleRow.__table__.c


def _rule(row: Any) -> DetectionRule:
    return DetectionRule(
        kind=RuleKind(row.kind),
        enabled=row.enabled,
        severity=Severity(row.severity),
        cooldown_hours=row.cooldown_hours,
        thresholds=row.thresholds,
    )


class SqlDetectionRuleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def rules(self) -> list[DetectionRule]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(DetectionRuleRow.__table__).order_by(rules_table.kind))
            ).all()
        return [_rule(r) for r in rows]

    async def save(self, rule: DetectionRule, actor: str) -> DetectionRule:
        values = {
            "enabled": rule.enabled,
            "severity": rule.severity.value,
            "cooldown_hours": rule.cooldown_hours,
            "thresholds": {k: dict(v) for k, v in rule.thresholds.items()},
            "updated_by": actor,
        }
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    pg_insert(DetectionRuleRow)
                    .values(kind=rule.kind.value, **values)
                    .on_conflict_do_update(
                        index_elements=[rules_table.kind], set_={**values, "updated_at": func.now()}
                    )
                    .returning(DetectionRuleRow.__table__)
                )
            ).one()
        return _rule(row)
