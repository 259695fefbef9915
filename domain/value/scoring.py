"""Keeping scores current: which customers and months an event changes.

A full scoring (`quanjing score --period`) fixes a month's cut-off; after that, every event
that changes a customer's revenue or cost rescores that customer for the month it belongs to
(the month of the interaction or the booking; a holding change, the month it arrived), against
the stored cut-off. Months never fully scored are left to their first full run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from domain.detection.handling import Event

log = logging.getLogger(__name__)

# Topic → the payload field that dates the change (None: the event's own time).
VALUE_TOPICS: dict[str, str | None] = {
    "interaction.recorded": "occurredAt",
    "fund_movement.recorded": "bookedAt",
    "holding.opened": None,
    "holding.changed": None,
    "holding.closed": None,
}


class Rescorer(Protocol):
    async def rescore(self, period: date, customer_ids: Sequence[int]) -> int: ...


def affected(events: Sequence[Event]) -> dict[date, set[int]]:
    """Month → customers whose contribution for that month the events change."""
    touched: dict[date, set[int]] = {}
    for event in events:
        if event.topic not in VALUE_TOPICS:
            continue
        key = VALUE_TOPICS[event.topic]
        when = event.occurred_at
        raw = event.payload.get(key) if key is not None else None
        if isinstance(raw, str):
            try:
                when = datetime.fromisoformat(raw)
            except ValueError:
                log.warning("event %s: unreadable %s %r, using its own time", event.id, key, raw)
        when = when.astimezone(UTC) if when.tzinfo is not None else when  # months are UTC
        touched.setdefault(date(when.year, when.month, 1), set()).add(event.customer_id)
    return touched


async def rescore_events(events: Sequence[Event], store: Rescorer) -> int:
    """Rescore the customers the events touch; returns how many scores were rewritten."""
    total = 0
    for period, ids in sorted(affected(events).items()):
        total += await store.rescore(period, sorted(ids))
    return total
