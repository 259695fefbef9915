"""Rate limits per principal: a token bucket, spent by each operation's cost."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    # The most one request may cost: a larger cost could never be paid.
    capacity: float
    # What refusals so far say about callers' buckets (see RefusalMemory).
    refusals: RefusalMemory

    async def acquire(self, key: str, cost: float) -> float | None:
        """Spend `cost` tokens; None when allowed, else the seconds to wait before retrying."""
        ...


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class LocalTokenBuckets:
    """The same bucket in process memory: the fallback when Redis is unreachable. Per
    worker, so a client spread over N workers gets up to N times the rate meanwhile."""

    def __init__(self, capacity: float, refill_per_second: float) -> None:
        self.capacity = capacity
        self.refill = refill_per_second
        self._buckets: dict[str, Bucket] = {}
        self.refusals = RefusalMemory(refill_per_second)

    def take(self, key: str, cost: float, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.refill)
        bucket.updated = now
        if cost <= bucket.tokens:
            bucket.tokens -= cost
            return None
        return math.ceil((cost - bucket.tokens) / self.refill * 1000) / 1000

    async def acquire(self, key: str, cost: float) -> float | None:
        retry = self.take(key, cost)
        if retry is not None:
            self.refusals.refused(key, cost, retry)
        return retry


class RefusalMemory:
    """Refusing a rate-limited caller again without parsing its request.

    A refusal tells how many tokens the caller's bucket held then: the cost asked for, less
    what the wait would have refilled. Until the bucket can have refilled to a request's cost,
    the bucket (shared by every worker, spent by every request) cannot pay it, so the request
    is refused here from that estimate alone: no GraphQL parsing, no Redis round trip. The
    estimate only ever overstates the tokens (other requests spend them, nothing adds any), so
    nothing the bucket would pay is refused.

    The cost of a request not parsed is the least its query text has cost before; a text never
    seen counts as the least any operation costs (1).
    """

    MAX_ENTRIES = 10_000

    def __init__(self, refill_per_second: float) -> None:
        self.refill = refill_per_second
        self._tokens: dict[str, tuple[float, float]] = {}  # bucket → (when, tokens then)
        # hash(query text) → the least it has cost. Keyed by the hash, not the text: ten
        # thousand texts of up to a request body each must not be what a process keeps.
        self._costs: dict[int, float] = {}

    def has_refused(self, bucket: str) -> bool:
        return bucket in self._tokens

    def remember_cost(self, text: str | None, cost: float) -> None:
        if text is None:
            return
        key = hash(text)
        if len(self._costs) >= self.MAX_ENTRIES and key not in self._costs:
            self._costs.clear()  # crude, and rare: forgetting only costs a parse
        # The least it has cost: `first:` may make the same text cheaper, and a request must
        # never be refused for a cost it does not have.
        self._costs[key] = min(cost, self._costs.get(key, cost))

    def cost_of(self, text: str | None) -> float:
        return self._costs.get(hash(text), 1.0) if text is not None else 1.0

    def refused(self, bucket: str, cost: float, retry: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._tokens) >= self.MAX_ENTRIES and bucket not in self._tokens:
            self._tokens.clear()
        # The wait was rounded up to a millisecond: a millisecond's refill more, never less.
        self._tokens[bucket] = (now, cost - retry * self.refill + self.refill / 1000)

    def retry_after(self, bucket: str, cost: float, now: float | None = None) -> float | None:
        """Seconds the caller must still wait for `cost`, or None: ask the bucket itself."""
        entry = self._tokens.get(bucket)
        if entry is None:
            return None
        now = time.monotonic() if now is None else now
        at, tokens = entry
        tokens += (now - at) * self.refill
        if tokens >= cost:
            del self._tokens[bucket]  # the bucket decides again
            return None
        return math.ceil((cost - tokens) / self.refill * 1000) / 1000
