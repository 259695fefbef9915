"""Alerts in PostgreSQL: the unit of work detection and acknowledgement write through, and
the reader of the alerts lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.rows import consent_from_row
from api.db.tables import AlertRow, ConsentRow, CustomerRow, RelationshipStateRow, TaskRow
from api.db.transaction import SqlTransaction
from domain.contact_planning import ContactProfile
from domain.customers.model import PreferredChannel
from domain.detection.alerts import Alert, AlertFilter, AlertStatus, Finding
from domain.detection.rules import RuleKind, Severity
from domain.privacy.consents import Consent, ConsentPurpose
from domain.tasks import NewTask, TaskStatus
from domain.value.tiers import ValueTier

_IDS = bindparam("ids", type_=ARRAY(BigInteger))


def alert_from_row(row: Any) -> Alert:
    return Alert(
        id=row.id,
        customer_id=row.customer_id,
        rule=RuleKind(row.rule),
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        dedupe_key=row.dedupe_key,
        evidence=row.evidence,
        task_id=row.task_id,
        fired_at=row.fired_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        closed_at=row.closed_at,
    )


_alerts = AlertRow.__table__.c


class SqlAlertUnitOfWork(SqlTransaction):
    """Alerts share the recording unit of work's tasks and outbox: one transaction."""

    async def __aenter__(self) -> SqlAlertUnitOfWork:
        await super().__aenter__()
        return self

    async def lock_customers(self, ids: Sequence[int]) -> Mapping[int, int | None]:
        # A transaction-scoped lock per customer: two workers checking the same customer's
        # cooldown take turns. The customer rows are only shared-locked, so recording keeps
        # going meanwhile.
        await self.conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended('alerts:' || id, 0)) "
                "FROM unnest(CAST(:ids AS bigint[])) AS id ORDER BY id"
            ),
            {"ids": list(ids)},
        )
        rows = await self.conn.execute(
            text(
                "SELECT id, relationship_manager_id FROM customers "
                "WHERE id = ANY(:ids) AND erased_at IS NULL ORDER BY id FOR SHARE"
            ).bindparams(_IDS),
            {"ids": list(ids)},
        )
        return {r.id: r.relationship_manager_id for r in rows}

    async def last_alerts(
        self, ids: Sequence[int]
    ) -> Mapping[tuple[int, RuleKind, Severity], datetime]:
        rows = await self.conn.execute(
            text(
                "SELECT customer_id, rule, severity, max(fired_at) AS at FROM alerts "
                "WHERE customer_id = ANY(:ids) GROUP BY customer_id, rule, severity"
            ).bindparams(_IDS),
            {"ids": list(ids)},
        )
        return {(r.customer_id, RuleKind(r.rule), Severity(r.severity)): r.at for r in rows}

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        found = await self.conn.scalars(
            select(_alerts.dedupe_key).where(_alerts.dedupe_key.in_(list(keys)))
        )
        return set(found)

    async def _next_ids(self, table: str, count: int) -> list[int]:
        # Ids drawn up front tie each alert to its task without relying on RETURNING order.
        rows = await self.conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table, "n": count},
        )
        return [r[0] for r in rows]

    async def contact_profiles(self, ids: Sequence[int]) -> Mapping[int, ContactProfile]:
        if not ids:
            return {}
        customers = await self.conn.execute(
            text(
                "SELECT c.id, c.preferred_channel, c.relationship_manager_id IS NOT NULL AS has_rm,"
                " (SELECT v.tier FROM customer_values v WHERE v.customer_id = c.id"
                "  ORDER BY v.period DESC LIMIT 1) AS tier"
                " FROM customers c WHERE c.id = ANY(:ids)"
            ).bindparams(_IDS),
            {"ids": list(ids)},
        )
        consents = await self.conn.execute(
            select(ConsentRow.__table__).where(
                ConsentRow.customer_id.in_(list(ids)),
                ConsentRow.purpose == ConsentPurpose.MARKETING.value,
            )
        )
        by_customer: dict[int, list[Consent]] = {}
        for row in consents:
            by_customer.setdefault(row.customer_id, []).append(consent_from_row(row))
        return {
            r.id: ContactProfile(
                tier=None if r.tier is None else ValueTier(r.tier),
                preferred=None
                if r.preferred_channel is None
                else PreferredChannel(r.preferred_channel),
                consents=tuple(by_customer.get(r.id, ())),
                has_rm=r.has_rm,
            )
            for r in customers
        }

    async def open_tasks_of_interactions(self, interaction_ids: Sequence[int]) -> Mapping[int, int]:
        if not interaction_ids:
            return {}
        rows = await self.conn.execute(
            select(TaskRow.source_interaction_id, TaskRow.id).where(
                TaskRow.source_interaction_id.in_(list(interaction_ids)),
                TaskRow.status == TaskStatus.OPEN.value,
            )
        )
        return {r.source_interaction_id: r.id for r in rows}

    async def open_alerts(
        self, alerts: Sequence[tuple[Finding, NewTask | int]], actor: str, fired_at: datetime
    ) -> list[tuple[int, int]]:
        if not alerts:
            return []
        new = [task for _, task in alerts if isinstance(task, NewTask)]
        fresh = iter(await self._next_ids("tasks", len(new)) if new else [])
        task_ids = [task if isinstance(task, int) else next(fresh) for _, task in alerts]
        alert_ids = await self._next_ids("alerts", len(alerts))
        if new:
            await self.conn.execute(
                insert(TaskRow),
                [
                    {
                        "id": task_id,
                        "customer_id": task.customer_id,
                        "kind": task.kind.value,
                        "status": TaskStatus.OPEN.value,
                        "title": task.title,
                        "owner_kind": task.owner.kind.value,
                        "owner_ref": task.owner.ref,
                        "due_at": task.due_at,
                        "created_by": actor,
                        "source_interaction_id": task.source_interaction_id,
                        "planned_channel": None
                        if task.planned_channel is None
                        else task.planned_channel.value,
                    }
                    for task_id, (_, task) in zip(task_ids, alerts, strict=True)
                    if isinstance(task, NewTask)
                ],
            )
        inserted = await self.conn.execute(
            pg_insert(AlertRow)
            .values(
                [
                    {
                        "id": alert_id,
                        "customer_id": finding.customer_id,
                        "rule": finding.rule.value,
                        "severity": finding.severity.value,
                        "status": AlertStatus.OPEN.value,
                        "dedupe_key": finding.dedupe_key,
                        "evidence": dict(finding.evidence),
                        "task_id": task_id,
                        "fired_at": fired_at,
                    }
                    for alert_id, task_id, (finding, _) in zip(
                        alert_ids, task_ids, alerts, strict=True
                    )
                ]
            )
            .on_conflict_do_nothing(index_elements=[_alerts.dedupe_key, _alerts.customer_id])
            .returning(_alerts.id)
        )
        if len(inserted.all()) != len(alerts):
            raise RuntimeError("an alert's dedupe key was taken concurrently; retry the batch")
        return list(zip(alert_ids, task_ids, strict=True))

    async def high_alerts_since_last_proposal(
        self, ids: Sequence[int], since: datetime
    ) -> Mapping[int, list[RuleKind]]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            text(
                """
                SELECT a.customer_id, array_agg(a.rule ORDER BY a.id) AS rules
                FROM alerts a
                WHERE a.customer_id = ANY(:ids) AND a.severity = 'high' AND a.fired_at > :since
                  AND a.fired_at > coalesce(
                      (SELECT max(p.proposed_at) FROM state_change_proposals p
                       WHERE p.customer_id = a.customer_id), '-infinity')
                GROUP BY a.customer_id
                """
            ).bindparams(_IDS),
            {"ids": list(ids), "since": since},
        )
        return {r.customer_id: [RuleKind(x) for x in r.rules] for r in rows}

    async def current_relationship(self, customer_id: int) -> tuple[str, int] | None:
        s = RelationshipStateRow.__table__.c
        row = (
            await self.conn.execute(select(s.state, s.version).where(s.customer_id == customer_id))
        ).first()
        return None if row is None else (row.state, row.version)

    async def alert_for_update(self, alert_id: int) -> Alert | None:
        row = (
            await self.conn.execute(
                select(AlertRow.__table__).where(_alerts.id == alert_id).with_for_update()
            )
        ).first()
        return None if row is None else alert_from_row(row)

    async def acknowledge(self, alert_id: int, actor: str, at: datetime) -> None:
        await self.conn.execute(
            update(AlertRow)
            .where(_alerts.id == alert_id)
            .values(
                status=AlertStatus.ACKNOWLEDGED.value, acknowledged_by=actor, acknowledged_at=at
            )
        )


class SqlAlertReader:
    """Alerts for the GraphQL queries: one statement per page, keyset on id."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def alerts(self, wanted: AlertFilter, first: int, after: int | None) -> list[Alert]:
        query = select(AlertRow.__table__)
        if wanted.statuses:
            query = query.where(_alerts.status.in_([s.value for s in wanted.statuses]))
        if wanted.severities:
            query = query.where(_alerts.severity.in_([s.value for s in wanted.severities]))
        if wanted.rules:
            query = query.where(_alerts.rule.in_([r.value for r in wanted.rules]))
        if wanted.customer_id is not None:
            query = query.where(_alerts.customer_id == wanted.customer_id)
        if wanted.rm_id is not None or wanted.unassigned_only:
            rm = CustomerRow.relationship_manager_id
            owned = rm == wanted.rm_id if wanted.rm_id is not None else rm.is_(None)
            query = query.where(_alerts.customer_id.in_(select(CustomerRow.id).where(owned)))
        if after is not None:
            query = query.where(_alerts.id < after)
        query = query.order_by(_alerts.id.desc()).limit(first)
        async with self.engine.connect() as conn:
            return [alert_from_row(r) for r in await conn.execute(query)]

    async def alerts_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Alert]]:
        """Each customer's alerts that are not closed, newest first."""
        query = (
            select(AlertRow.__table__)
            .where(_alerts.customer_id.in_(list(ids)), _alerts.status != AlertStatus.CLOSED.value)
            .order_by(_alerts.id.desc())
        )
        found: dict[int, list[Alert]] = {i: [] for i in ids}
        async with self.engine.connect() as conn:
            for row in await conn.execute(query):
                found[row.customer_id].append(alert_from_row(row))
        return found
