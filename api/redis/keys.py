"""Every Redis key and channel quanjing uses, named once, with the hash tags that make it
ready for Redis Cluster.

Redis Cluster places a key by the CRC16 of its hash tag (the part between the first `{` and
the next `}`), or of the whole key without one. A script, a MULTI or a command over several
keys must keep them in one slot. So:

- one customer's keys share the tag `{c:<id>}`: cached answers, the activity channel, a
  counter session and its failure count (opened, and the count reset, in one MULTI);
- the event stream and its dead letters share `{events}` (a requeue moves an entry from one to
  the other in one MULTI);
- a caller's rate bucket is a key of its own (its script touches it alone).

The one call that reaches two tags — a rate bucket and a cached answer read in one round trip —
is made only against a single Redis; against a cluster it is two calls
(api/redis/rate_limits.py). tests/unit/test_redis_slots.py checks every multi-key call.
"""

from __future__ import annotations

from datetime import date

STREAM = "qj:{events}"  # every event, for the worker
DEAD_STREAM = "qj:{events}:dead"  # events the worker gave up on
# Before hash tags: renamed on a worker's start (api/worker/loop.py), consumer groups and all.
LEGACY_STREAMS = {"qj:events": STREAM, "qj:events:dead": DEAD_STREAM}


def customer_tag(customer_id: int) -> str:
    return f"{{c:{customer_id}}}"


def activity_channel(customer_id: int) -> str:
    """The pub/sub channel of one customer's events."""
    return f"qj:activity:{customer_tag(customer_id)}"


def cached_answer(customer_id: int, operation: str, digest: str, scope: str) -> str:
    return f"qj:rc:{customer_tag(customer_id)}:{operation}:{digest}:{scope}"


def cached_answers(customer_id: int) -> list[str]:
    """SCAN patterns of every cached answer about the customer, the names before hash tags
    included (they live until their TTL: an erasure must remove them too)."""
    return [f"qj:rc:{customer_tag(customer_id)}:*", f"qj:rc:*:{customer_id}:*"]


def counter_session(teller: str, customer_id: int) -> str:
    return f"qj:counter-session:{customer_tag(customer_id)}:{teller}"


def counter_failures(teller: str, customer_id: int) -> str:
    return f"qj:counter-failures:{customer_tag(customer_id)}:{teller}"


def rate_bucket(caller: str) -> str:
    return f"qj:rate:{{{caller}}}"


def written_fence(caller: str) -> str:
    """The WAL position of the caller's last write (api/db/replicas.py), in the rate bucket's
    slot."""
    return f"qj:written:{{{caller}}}"


def daily_pass(job: str, day: date) -> str:
    """Taken by the one worker that runs `job` (`detect`, `campaigns`) on `day`."""
    return f"qj:{job}:done:{day.isoformat()}"
