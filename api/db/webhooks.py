"""Webhook subscriptions, deliveries and attempts in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookSubscriptionRow
from domain.detection.handling import Event
from domain.ids import with_global_ids
from domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Subscription,
    next_attempt,
    payload,
)

SECRET_CONTEXT = "webhook-secret"  # the AES-GCM associated data: a sealed secret is only that
_subs = WebhookSubscriptionRow.__table__.c
_deliveries = WebhookDeliveryRow.__table__.c
_attempts = WebhookAttemptRow.__table__.c


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: int
    event_id: int
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        event_types=frozenset(row.event_types),
        active=row.active,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


class SqlWebhookStore:
    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto) -> None:
        self.engine = engine
        self.crypto = crypto
        self._active: tuple[float, list[Subscription]] | None = None

    async def subscriptions(self) -> list[Subscription]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(WebhookSubscriptionRow.__table__).order_by(_subs.id))
            return [_subscription(r) for r in rows]

    async def subscription(self, subscription_id: int) -> Subscription | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(WebhookSubscriptionRow.__table__).where(_subs.id == subscription_id)
                )
            ).first()
        return None if row is None else _subscription(row)

    async def create(
        self,
        url: str,
        event_types: frozenset[str],
        description: str | None,
        secret: str,
        actor: str,
    ) -> Subscription:
        ciphertext, key_id = self.crypto.seal_secret(SECRET_CONTEXT, secret)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    insert(WebhookSubscriptionRow)
                    .values(
                        url=url,
                        secret_ciphertext=ciphertext,
                        secret_key_id=key_id,
                        event_types=sorted(event_types),
                        description=description,
                        created_by=actor,
                    )
                    .returning(WebhookSubscriptionRow.__table__)
                )
            ).one()
        self._active = None
        return _subscription(row)

    async def update(
        self,
        subscription_id: int,
        url: str | None,
        event_types: frozenset[str] | None,
        active: bool | None,
    ) -> Subscription | None:
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = url
        if event_types is not None:
            values["event_types"] = sorted(event_types)
        if active is not None:
            values["active"] = active
        if not values:
            return await self.subscription(subscription_id)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(WebhookSubscriptionRow)
                    .where(_subs.id == subscription_id)
                    .values(**values)
                    .returning(WebhookSubscriptionRow.__table__)
                )
            ).first()
        self._active = None
        return None if row is None else _subscription(row)

    async def deliveries(
        self, subscription_id: int, status: DeliveryStatus | None, first: int, after: int | None
    ) -> list[Delivery]:
        query = select(WebhookDeliveryRow.__table__).where(
            _deliveries.subscription_id == subscription_id
        )
        if status is not None:
            query = query.where(_deliveries.status == status.value)
        if after is not None:
            query = query.where(_deliveries.id < after)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(_deliveries.id.desc()).limit(first))
            return [_delivery(r) for r in rows]

    async def attempts(self, delivery_ids: Sequence[int]) -> dict[int, list[Attempt]]:
        found: dict[int, list[Attempt]] = {i: [] for i in delivery_ids}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(WebhookAttemptRow.__table__)
                .where(_attempts.delivery_id.in_(list(delivery_ids)))
                .order_by(_attempts.id)
            )
            for r in rows:
                found[r.delivery_id].append(
                    Attempt(
                        r.id, r.delivery_id, r.attempted_at, r.status_code, r.error, r.duration_ms
                    )
                )
        return found

    async def retry(self, delivery_id: int) -> Delivery | None:
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(WebhookDeliveryRow)
                    .where(
                        _deliveries.id == delivery_id,
                        _deliveries.status != DeliveryStatus.DELIVERED.value,
                    )
                    .values(
                        status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=func.now()
                    )
                    .returning(WebhookDeliveryRow.__table__)
                )
            ).first()
        return None if row is None else _delivery(row)

    # The worker's side.

    async def _active_subscriptions(self) -> list[Subscription]:
        # Read at most every few seconds: fan-out runs for every batch of events.
        now = time.monotonic()
        if self._active is None or now - self._active[0] > 5.0:
            self._active = (now, [s for s in await self.subscriptions() if s.active])
        return self._active[1]

    async def fan_out(self, events: Sequence[Event]) -> int:
        """One delivery per matching (subscription, event); a redelivered event adds none."""
        subscriptions = await self._active_subscriptions()
        rows = [
            {
                "subscription_id": s.id,
                "event_id": e.id,
                "event_type": e.topic,
                "payload": payload(
                    e.topic,
                    e.occurred_at,
                    with_global_ids({"customerId": e.customer_id, **e.payload}),
                ),
                "status": DeliveryStatus.PENDING.value,
                "next_attempt_at": func.now(),
            }
            for e in events
            for s in subscriptions
            if e.topic in s.event_types
        ]
        if not rows:
            return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(
                pg_insert(WebhookDeliveryRow)
                .values(rows)
                .on_conflict_do_nothing(constraint="uq_webhook_deliveries_event")
                .returning(_deliveries.id)
            )
            return len(result.all())

    async def claim_due(self, limit: int, lease: timedelta) -> list[DueDelivery]:
        """Take up to `limit` due deliveries, leased for `lease`: a worker that dies while
        sending leaves them to be taken again when the lease runs out."""
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                text(
                    """
                    UPDATE webhook_deliveries d SET next_attempt_at = now() + :lease
                    FROM webhook_subscriptions s
                    WHERE s.id = d.subscription_id AND d.id IN (
                        SELECT x.id FROM webhook_deliveries x
                        JOIN webhook_subscriptions xs ON xs.id = x.subscription_id AND xs.active
                        WHERE x.status = 'pending' AND x.next_attempt_at <= now()
                        ORDER BY x.next_attempt_at LIMIT :limit
                        FOR UPDATE OF x SKIP LOCKED)
                    RETURNING d.id, d.event_id, d.payload, d.attempts, s.url,
                              s.secret_ciphertext, s.secret_key_id
                    """
                ),
                {"lease": lease, "limit": limit},
            )
            return [
                DueDelivery(
                    id=r.id,
                    event_id=r.event_id,
                    payload=r.payload,
                    attempts=r.attempts,
                    url=r.url,
                    secret=self.crypto.open_secret(
                        SECRET_CONTEXT, r.secret_key_id, r.secret_ciphertext
                    ),
                )
                for r in rows
            ]

    async def record_attempt(
        self,
        due: DueDelivery,
        attempted_at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        max_attempts: int,
        backoff: timedelta,
    ) -> DeliveryStatus:
        attempts = due.attempts + 1
        if error is None:
            status, values = DeliveryStatus.DELIVERED, {"delivered_at": attempted_at}
        elif attempts >= max_attempts:
            status, values = DeliveryStatus.DEAD, {}
        else:
            status = DeliveryStatus.PENDING
            values = {"next_attempt_at": attempted_at + next_attempt(attempts, backoff)}
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(WebhookAttemptRow).values(
                    delivery_id=due.id,
                    attempted_at=attempted_at,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            await conn.execute(
                update(WebhookDeliveryRow)
                .where(_deliveries.id == due.id)
                .values(status=status.value, attempts=attempts, last_error=error, **values)
            )
        return status
