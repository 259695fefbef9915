"""Counter sessions (柜台会话): a teller verifies a customer's identity once, then serves them
for several transactions within a bounded time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CounterSession:
    teller: str
    customer_id: int
    opened_at: datetime
    idle_expires_at: datetime
    expires_at: datetime  # the absolute limit: no refresh goes past it


class CounterSessionStore(Protocol):
    """Verified sessions with an idle timeout and an absolute limit; expired ones vanish."""

    async def open(self, teller: str, customer_id: int) -> CounterSession:
        """Start (or restart) the session of this teller with this customer."""
        ...

    async def touch(self, teller: str, customer_id: int) -> CounterSession | None:
        """The live session, its idle timeout refreshed; None when there is none."""
        ...

    async def close(self, teller: str, customer_id: int) -> bool:
        """End the session; False when there was none."""
        ...
