"""Live activity on a customer: what the agent desktop shows as it happens.

Events carry ids, kinds and times; a fund movement also its amount and direction, which a
subscriber sees only as the field policies allow (`ActivityEvent.payload.*`). A desktop that
wants the details reads them through the (masked, audited) queries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    id: int  # the outbox id: increasing, so a client can spot a gap or a repeat
    customer_id: int
    topic: str  # interaction.recorded, task.opened, task.completed, holding.*, fund_movement.*
    occurred_at: datetime
    payload: dict[str, Any]


class ActivityFeed(Protocol):
    def subscribe(self, customer_id: int, holder: str) -> AsyncIterator[ActivityEvent]:
        """Events for one customer from now on, until the caller stops iterating. `holder`
        names the caller: each may hold a limited number of subscriptions at once."""
        ...
