"""Detection in PostgreSQL: the facts the rules need, gathered set-based for a whole batch,
and the alert unit of work (alerts, contact tasks and their events in one transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.tables import AlertRow, CustomerRow, RelationshipStateRow, TaskRow
from api.db.transaction import SqlTransaction
from domain.detection import detector
from domain.detection.alerts import Alert, AlertFilter, AlertStatus, Finding
from domain.detection.rules import RuleKind, Severity
from domain.fund_movements import MovementDirection
from domain.products import DEPOSIT_CATEGORIES
from domain.tasks import NewTask, TaskStatus

_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_DEPOSITS = [c.value for c in DEPOSIT_CATEGORIES]

# Per movement: the customer's typical movement in the same currency over the lookback
# (this one excluded), deposit balances in that currency, and the net deposit outflow over
# the balance-drop window (this one included). Windows differ by customer kind.
_MOVEMENTS = text(
    """
    WITH m AS (
        SELECT fm.id, fm.customer_id, fm.holding_id, fm.amount, fm.currency, fm.direction,
               fm.booked_at, c.kind, p.category = ANY(:deposits) AS deposit_holding,
               CASE WHEN c.kind = 'corporate' THEN CAST(:lookback_c AS int) ELSE CAST(:lookback_p AS int) END AS lookback,
               CASE WHEN c.kind = 'corporate' THEN CAST(:window_c AS int) ELSE CAST(:window_p AS int) END AS window_days
        FROM fund_movements fm
        JOIN customers c ON c.id = fm.customer_id AND c.erased_at IS NULL
        JOIN holdings h ON h.id = fm.holding_id
        JOIN products p ON p.id = h.product_id
        WHERE fm.id = ANY(:ids)
    )
    SELECT m.*, typical.avg_amount, typical.n, deposits.total AS deposits_now,
           flow.net AS net_outflow
    FROM m
    CROSS JOIN LATERAL (
        SELECT avg(e.amount) AS avg_amount, count(*) AS n
        FROM fund_movements e
        WHERE e.customer_id = m.customer_id AND e.id <> m.id AND e.currency = m.currency
          AND e.booked_at <= m.booked_at
          AND e.booked_at > m.booked_at - make_interval(days => m.lookback)
    ) typical
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(h.balance), 0) AS total
        FROM holdings h JOIN products p ON p.id = h.product_id
        WHERE h.customer_id = m.customer_id AND h.status <> 'closed'
          AND h.currency = m.currency AND p.category = ANY(:deposits)
    ) deposits
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(CASE WHEN e.direction = 'debit' THEN e.amount ELSE -e.amount END), 0)
               AS net
        FROM fund_movements e
        JOIN holdings h ON h.id = e.holding_id
        JOIN products p ON p.id = h.product_id
        WHERE e.customer_id = m.customer_id AND e.currency = m.currency
          AND p.category = ANY(:deposits)
          AND e.booked_at <= m.booked_at
          AND e.booked_at > m.booked_at - make_interval(days => m.window_days)
    ) flow
    """
).bindparams(_IDS)

_CLOSURES = text(
    """
    SELECT h.id, h.customer_id, c.kind, p.code, p.category,
           coalesce(h.closed_on::timestamptz, now()) AS observed_at,
           (SELECT count(*) FROM holdings o JOIN products op ON op.id = o.product_id
            WHERE o.customer_id = h.customer_id AND o.id <> h.id AND o.status <> 'closed'
              AND op.category = p.category) AS remaining
    FROM holdings h
    JOIN customers c ON c.id = h.customer_id AND c.erased_at IS NULL
    JOIN products p ON p.id = h.product_id
    WHERE h.id = ANY(:ids) AND h.status = 'closed'
    """
).bindparams(_IDS)

_COMPLAINTS = text(
    """
    SELECT i.id, i.customer_id, c.kind, i.channel, i.occurred_at
    FROM interactions i JOIN customers c ON c.id = i.customer_id AND c.erased_at IS NULL
    WHERE i.id = ANY(:ids) AND i.kind = 'complaint'
    """
).bindparams(_IDS)

_SILENT = text(
    """
    SELECT c.id, c.kind, c.created_at, last.at AS last_at
    FROM customers c
    CROSS JOIN LATERAL (
        SELECT max(i.occurred_at) AS at FROM interactions i WHERE i.customer_id = c.id
    ) last
    WHERE c.erased_at IS NULL
      AND coalesce(last.at, c.created_at) <= CAST(:now AS timestamptz) - make_interval(
          days => CASE WHEN c.kind = 'corporate' THEN CAST(:days_c AS int) ELSE CAST(:days_p AS int) END)
    """
)

# Birthdays and relationship anniversaries on the given days (as month * 100 + day), with
# the customer's marketing consent for contact: the RM-visit answer wins over the general
# one, the latest version of each wins, and no answer means no (opt-in).
_OCCASIONS = text(
    """
    SELECT c.id, c.kind, c.birth_date, c.created_at::date AS since,
           coalesce((SELECT k.granted FROM consents k
                     WHERE k.customer_id = c.id AND k.purpose = 'marketing'
                       AND k.channel IN ('rm_visit', 'all')
                     ORDER BY k.channel = 'rm_visit' DESC, k.version DESC LIMIT 1), false)
               AS allowed
    FROM customers c
    WHERE c.erased_at IS NULL AND (
        (extract(month FROM c.birth_date) * 100 + extract(day FROM c.birth_date))::int
            = ANY(:days)
        OR (extract(month FROM c.created_at) * 100 + extract(day FROM c.created_at))::int
            = ANY(:days))
    """
)

_DECLINING = text(
    """
    SELECT id, kind, industry, lifecycle_stage FROM customers
    WHERE kind = 'corporate' AND lifecycle_stage = 'decline' AND erased_at IS NULL
    """
)


def _customer(row: Any) -> detector.CustomerFacts:
    # Value tiers do not exist yet: thresholds resolve by customer kind, then default.
    return detector.CustomerFacts(customer_id=row.customer_id, kind=row.kind, tier=None)


class SqlDetectionFacts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _rows(self, statement: Any, **params: Any) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).all()

    async def movements(
        self, ids: Sequence[int], lookback_days: Mapping[str, int], window_days: Mapping[str, int]
    ) -> list[detector.MovementFacts]:
        rows = await self._rows(
            _MOVEMENTS,
            ids=list(ids),
            deposits=_DEPOSITS,
            lookback_p=lookback_days.get("personal", 0),
            lookback_c=lookback_days.get("corporate", 0),
            window_p=window_days.get("personal", 0),
            window_c=window_days.get("corporate", 0),
        )
        return [
            detector.MovementFacts(
                customer=_customer(r),
                movement_id=r.id,
                holding_id=r.holding_id,
                amount=r.amount,
                currency=r.currency,
                direction=MovementDirection(r.direction),
                booked_at=r.booked_at,
                typical_amount=r.avg_amount,
                earlier_movements=r.n,
                deposit_holding=r.deposit_holding,
                deposits_now=r.deposits_now,
                net_outflow=r.net_outflow,
            )
            for r in rows
        ]

    async def closures(self, holding_ids: Sequence[int]) -> list[detector.ClosureFacts]:
        rows = await self._rows(_CLOSURES, ids=list(holding_ids))
        return [
            detector.ClosureFacts(
                customer=_customer(r),
                holding_id=r.id,
                product_code=r.code,
                category=r.category,
                remaining_in_category=r.remaining,
                observed_at=r.observed_at,
            )
            for r in rows
        ]

    async def complaints(self, interaction_ids: Sequence[int]) -> list[detector.ComplaintFacts]:
        rows = await self._rows(_COMPLAINTS, ids=list(interaction_ids))
        return [
            detector.ComplaintFacts(
                customer=_customer(r),
                interaction_id=r.id,
                channel=r.channel,
                occurred_at=r.occurred_at,
            )
            for r in rows
        ]

    async def silent(self, now: datetime, days: Mapping[str, int]) -> list[detector.SilenceFacts]:
        rows = await self._rows(
            _SILENT, now=now, days_p=days.get("personal", 0), days_c=days.get("corporate", 0)
        )
        return [
            detector.SilenceFacts(
                customer=detector.CustomerFacts(r.id, r.kind, None),
                last_interaction_at=r.last_at,
                customer_since=r.created_at,
            )
            for r in rows
        ]

    async def occasions(
        self, month_days: Sequence[tuple[int, int]]
    ) -> list[detector.OccasionFacts]:
        rows = await self._rows(_OCCASIONS, days=[m * 100 + d for m, d in month_days])
        return [
            detector.OccasionFacts(
                customer=detector.CustomerFacts(r.id, r.kind, None),
                birth_date=r.birth_date,
                customer_since=r.since,
                contact_allowed=r.allowed,
            )
            for r in rows
        ]

    async def declining(self) -> list[detector.IndustryFacts]:
        rows = await self._rows(_DECLINING)
        return [
            detector.IndustryFacts(
                customer=detector.CustomerFacts(r.id, r.kind, None),
                industry=r.industry,
                lifecycle_stage=r.lifecycle_stage,
            )
            for r in rows
        ]


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

    async def open_alerts(
        self, alerts: Sequence[tuple[Finding, NewTask]], actor: str, fired_at: datetime
    ) -> list[tuple[int, int]]:
        if not alerts:
            return []
        task_ids = await self._next_ids("tasks", len(alerts))
        alert_ids = await self._next_ids("alerts", len(alerts))
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
                }
                for task_id, (_, task) in zip(task_ids, alerts, strict=True)
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
            .on_conflict_do_nothing(index_elements=[_alerts.dedupe_key])
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
