"""Counter sessions (柜台会话): a teller verifies a customer's identity once, then serves them
for several transactions within a bounded time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import DependencyUnavailable, DomainError, RuleViolation

# A document number is what stands between a teller and a customer's data in clear: a pair of
# teller and customer that fails this often is locked out for a while (the defaults of
# QUANJING_COUNTER_MAX_FAILURES and QUANJING_COUNTER_LOCKOUT_SECONDS).
MAX_FAILED_VERIFICATIONS = 5
LOCKOUT_SECONDS = 15 * 60


class VerificationLocked(RuleViolation):
    """Too many documents that did not match: this teller may not try this customer now."""

    code = "COUNTER_VERIFICATION_LOCKED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many documents shown did not belong to this customer; try again later or ask "
            "a supervisor"
        )
        self.retry_after = retry_after

    def details(self) -> dict[str, object]:
        return {"retryAfter": self.retry_after}


class CounterSessionExpired(DomainError):
    """The teller has no verified session with this customer (now)."""

    code = "COUNTER_SESSION_EXPIRED"


class OneVerificationPerRequest(RuleViolation):
    """A request verifies one document: aliases would make it an oracle of many guesses."""

    code = "ONE_VERIFICATION_PER_REQUEST"

    def __init__(self) -> None:
        super().__init__("verify one document per request")


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

    async def is_open(self, teller: str, customer_id: int) -> bool:
        """Whether the session is live, without extending it (a live update the teller did
        not ask for must not keep the session open)."""
        ...

    async def locked_for(self, teller: str, customer_id: int) -> int:
        """Seconds this teller is still locked out of verifying this customer; 0: may try."""
        ...

    async def failed(self, teller: str, customer_id: int) -> int:
        """Count a document that did not match; the seconds of the lockout it brings (0: not
        yet locked). Failures are forgotten after the lockout period, and on success."""
        ...


class CounterSessionUnavailable(DependencyUnavailable):
    """The session store cannot be reached, so whether the teller has a verified session with
    this customer is unknown. Reads go on as for a teller without one (masked); what needs the
    session (opening or closing one, a visit recorded at the counter) is refused with this."""

    code = "COUNTER_SESSION_UNAVAILABLE"

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("counter session store", retry_after)
        self.message = f"counter sessions cannot be checked right now; retry in {retry_after} s"
