"""RefusalMemory never refuses what the bucket would pay (domain/access/rate_limits.py)."""

from __future__ import annotations

from domain.access.rate_limits import LocalTokenBuckets, RefusalMemory


def test_refused_until_the_bucket_can_have_refilled_to_the_cost() -> None:
    memory = RefusalMemory(refill_per_second=10)
    memory.refused("agent:a", cost=50, retry=3.0, now=100.0)  # the bucket held 20
    assert memory.has_refused("agent:a")
    assert memory.retry_after("agent:a", 50, now=100.0) is not None
    assert memory.retry_after("agent:a", 50, now=102.9) is not None
    assert memory.retry_after("agent:a", 50, now=103.1) is None
    assert not memory.has_refused("agent:a")  # the bucket decides again
    memory.refused("agent:a", cost=50, retry=3.0, now=200.0)
    assert memory.retry_after("agent:a", 10, now=200.0) is None  # 20 tokens pay for 10
    assert memory.retry_after("agent:b", 50, now=200.0) is None  # another caller


def test_a_text_counts_at_the_least_it_has_cost() -> None:
    memory = RefusalMemory(refill_per_second=10)
    assert memory.cost_of("{ a }") == 1.0
    memory.remember_cost("{ a }", 40)
    memory.remember_cost("{ a }", 60)
    assert memory.cost_of("{ a }") == 40
    assert memory.cost_of(None) == 1.0


def test_the_estimate_agrees_with_the_bucket_it_remembers() -> None:
    """Against the in-process bucket, step by step: whenever the memory refuses, the bucket
    would have refused too."""
    buckets = LocalTokenBuckets(capacity=100, refill_per_second=10)
    memory = RefusalMemory(refill_per_second=10)
    now = 0.0
    for step in range(2000):
        now += 0.013
        cost = float(5 + step % 37)
        early = memory.retry_after("k", cost, now=now)
        retry = buckets.take("k", cost, now=now)
        if early is not None:
            assert retry is not None, (step, cost)
            continue
        if retry is not None:
            memory.refused("k", cost, retry, now=now)
