"""Sends due webhook deliveries with httpx, signed the Standard Webhooks way."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from api.db.webhooks import DueDelivery, SqlWebhookStore
from api.metrics import WEBHOOK_DELIVERIES
from domain.errors import InvalidInput
from domain.webhooks import IPAddress, ReceiverRules, allowed_address

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
        rules: ReceiverRules,
        max_attempts: int,
        backoff: timedelta,
        timeout_seconds: float,
        batch: int = 50,
    ) -> None:
        self.store = store
        self.http = http
        self.rules = rules
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
        # What the attempt log says (admins read it over GraphQL) is a kind of failure, never
        # the connection's own message or which port answered how: the log keeps the detail.
        error: str | None
        try:
            # Resolved and checked now, at every attempt, and called at the address checked:
            # a receiver whose name has come to point inside the bank is not called.
            address = await allowed_address(due.url, self.rules)
            response = await self.http.post(
                pinned_url(due.url, address),
                content=body,
                headers={**signed_headers(due, body, at), "host": urlsplit(due.url).netloc},
                timeout=self.timeout,
                follow_redirects=False,  # a redirect could carry the payload elsewhere
                extensions=_tls_name(due.url),
            )
            status_code = response.status_code
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        except InvalidInput as exc:
            error = "receiver address refused"
            detail = exc.message
        except httpx.TimeoutException as exc:
            error, detail = "timed out", repr(exc)
        except httpx.HTTPError as exc:
            error, detail = "could not deliver", f"{type(exc).__name__}: {exc}"
        else:
            detail = error or ""
        duration_ms = int((time.perf_counter() - started) * 1000)
        outcome = await self.store.record_attempt(
            due, at, status_code, error, duration_ms, self.max_attempts, self.backoff
        )
        # delivered, pending (to be retried) or dead: the state this attempt left it in.
        WEBHOOK_DELIVERIES.labels(getattr(outcome, "value", str(outcome))).inc()
        if error is not None:
            log.info(
                "webhook delivery %s attempt %d: %s (%s)",
                due.id,
                due.attempts + 1,
                detail[:500],
                outcome,
            )


def pinned_url(url: str, address: IPAddress) -> str:
    """`url` with its host replaced by the address it was checked at (the name goes in the
    Host header and, for https, in the TLS handshake, so the certificate is still checked
    against the name)."""
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _tls_name(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
