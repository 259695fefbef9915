"""Rate limits per principal: a token bucket, spent by each operation's cost."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    # The most one request may cost: a larger cost could never be paid.
    capacity: float

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
        return self.take(key, cost)
