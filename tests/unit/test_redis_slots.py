"""Redis Cluster readiness: every call that touches several keys keeps them in one hash slot,
and one customer's keys live in one slot (redis-py's own key-slot function decides)."""

from __future__ import annotations

import inspect

from redis.crc import key_slot

from api.redis import counter_sessions, dead_letters, rate_limits, read_fences
from api.redis.keys import (
    DEAD_STREAM,
    STREAM,
    activity_channel,
    cached_answer,
    counter_failures,
    counter_session,
    rate_bucket,
    written_fence,
)


def _slots(*keys: str) -> set[int]:
    return {key_slot(key.encode()) for key in keys}


# Every call that sends several keys at once (a script, a MULTI), with the keys it sends, as
# the code builds them. A new multi-key call belongs here.
MULTI_KEY_CALLS = {
    # RedisCounterSessionStore.open: the session set and the failure count reset in one MULTI.
    "counter session open": (counter_session("teller-1", 42), counter_failures("teller-1", 42)),
    # dead_letters.requeue: back on the stream and off the dead letters in one MULTI.
    "dead letter requeue": (STREAM, DEAD_STREAM),
    # RedisTokenBuckets.acquire: the token-bucket script over the caller's bucket.
    "rate limit": (rate_bucket("agent:agent-7"),),
    # ReadYourWrites.written: the raise-only script over the caller's fence.
    "read-your-writes fence": (written_fence("agent:agent-7"),),
}


def test_every_multi_key_call_stays_in_one_slot() -> None:
    for call, keys in MULTI_KEY_CALLS.items():
        assert len(_slots(*keys)) == 1, call


def test_a_callers_keys_live_in_one_slot() -> None:
    # The rate bucket and the read-your-writes fence: a caller's state stays on one node.
    for caller in ("agent:agent-7", "rm:rm1", "customer:c-42"):
        assert len(_slots(rate_bucket(caller), written_fence(caller))) == 1, caller


def test_one_customers_keys_live_in_one_slot() -> None:
    for customer in (1, 42, 987_654_321):
        keys = (
            activity_channel(customer),
            cached_answer(customer, "CallCenterProfile", "0" * 32, "agent:-:-"),
            cached_answer(customer, "SelfProfile", "f" * 32, f"customer:{customer}:-"),
            counter_session("teller-1", customer),
            counter_failures("teller-9", customer),
        )
        assert len(_slots(*keys)) == 1, customer
    # …and different customers spread over the cluster.
    assert len(_slots(*(activity_channel(c) for c in range(1000)))) > 900


def test_the_code_builds_its_keys_from_the_named_ones() -> None:
    # The modules that send multi-key calls name no key of their own: they take them from
    # api/redis/keys.py, which the checks above cover.
    for module in (counter_sessions, dead_letters, rate_limits, read_fences):
        assert '"qj:' not in inspect.getsource(module), module.__name__
