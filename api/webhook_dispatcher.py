"""Sends due webhook deliveries with httpx, signed the Standard Webhooks way."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from api.db.webhooks import DueDelivery, SqlWebhookStore

log = logging.getLogger(__name__)


def signed_headers(due: DueDelivery, body: str, at: datetime) -> dict[str, str]:
    # The id stays the same across retries, so a receiver can drop a repeat.
    message_id = f"evt_{due.event_id}"
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(due.secret).sign(message_id, at, body),
        "content-type": "application/json",
        "user-agent": "quanjing-webhooks/1",
    }


class WebhookDispatcher:
    def __init__(
        self,
        store: SqlWebhookStore,
        http: httpx.AsyncClient,
        *,
        max_attempts: int,
        backoff: timedelta,
        timeout_seconds: float,
        batch: int = 50,
    ) -> None:
        self.store = store
        self.http = http
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout_seconds
        self.batch = batch

    async def deliver_due(self) -> int:
        """Attempt every due delivery once (concurrently); how many were attempted."""
        due = await self.store.claim_due(self.batch, timedelta(seconds=self.timeout * 3))
        await asyncio.gather(*(self._attempt(d) for d in due))
        return len(due)

    async def _attempt(self, due: DueDelivery) -> None:
        body = orjson.dumps(due.payload).decode()
        at = datetime.now(UTC)
        started = time.perf_counter()
        status_code: int | None = None
        try:
            response = await self.http.post(
                due.url,
                content=body,
                headers=signed_headers(due, body, at),
                timeout=self.timeout,
                follow_redirects=False,  # a redirect could carry the payload elsewhere
            )
            status_code = response.status_code
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.perf_counter() - started) * 1000)
        outcome = await self.store.record_attempt(
            due, at, status_code, error, duration_ms, self.max_attempts, self.backoff
        )
        if error is not None:
            log.info(
                "webhook delivery %s attempt %d: %s (%s)", due.id, due.attempts + 1, error, outcome
            )
