"""The response cache of fast-path operations, in Redis, never stale after a committed write.

An answer is stored under the operation, its variables and the caller's visibility scope
(role, plus what decides the caller's relation to a customer: the RM id, the customer id, a
teller's live counter session), tagged with the customer's change counter and the reference
data counter read in the same snapshot as the data (api/db/profile_reader.py). Triggers bump
the counters in the same transaction as every write (migration profile_versions).

A hit costs one SQL statement: the read audit's INSERT, made conditional on both counters still
being what the answer was built from (written together with concurrent reads' rows,
api/db/audit_log.py). A committed write has bumped a counter, so the INSERT
inserts nothing and the request takes the fast path instead: after a committed write no caller
gets the old answer. Entries also expire after QUANJING_RESPONSE_CACHE_TTL_SECONDS, which bounds
how long time-derived flags (a task becoming overdue) may lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from api.redis.keys import cached_answer, cached_answers
from domain.access.audit import AuditLog, StillCurrent
from domain.access.counter_sessions import CounterSessionUnavailable
from domain.access.policy import relation_inputs, session_decides
from schema.core.context import Context

log = logging.getLogger(__name__)

REWRITE_WAITS = 60  # half-seconds an erasure waits for a running AOF rewrite to end


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    data: bytes  # the answer's `data`, as JSON: a hit sends it on without parsing it
    version: int
    reference_version: int
    # The read audit the first answer wrote: a hit writes the same record for its caller.
    operation: str | None
    customer_ids: list[int]
    fields: list[str]
    outcome: str


class ResponseCache:
    def __init__(self, redis: aioredis.Redis, audit_log: AuditLog, ttl_seconds: int) -> None:
        self.redis = redis
        self.audit_log = audit_log
        self.ttl = ttl_seconds

    async def forget(self, customer_id: int) -> None:
        """Remove every cached answer about the customer (an erasure), then have Redis rewrite
        its append-only file, which would otherwise keep the removed answers until its next
        rewrite. A scan of the keyspace: erasures are rare, and the keys carry the id."""
        for pattern in cached_answers(customer_id):
            async for key in self.redis.scan_iter(match=pattern, count=1000):
                await self.redis.unlink(key)
        # Every node of a cluster keeps its own append-only file.
        nodes: list[Any] = (
            self.redis.get_primaries() if isinstance(self.redis, RedisCluster) else [None]
        )
        for node in nodes:
            await self._rewrite_append_only_file({} if node is None else {"target_nodes": node})

    async def _rewrite_append_only_file(self, target: dict[str, Any]) -> None:
        # A rewrite already running copies the data as it was when it began: wait for it to
        # end, then start one of our own.
        for _ in range(REWRITE_WAITS):
            persistence = await self.redis.info("persistence", **target)
            if not persistence.get("aof_enabled"):
                return
            if not persistence.get("aof_rewrite_in_progress"):
                break
            await asyncio.sleep(0.5)
        try:
            await self.redis.bgrewriteaof(**target)
        except RedisError as exc:
            log.warning("erasure: the append-only file could not be rewritten: %s", exc)

    async def key(
        self, operation: str, variables: dict[str, Any], customer_id: int, context: Context
    ) -> str:
        principal = context.principal
        in_session = False
        if session_decides(principal):
            # The same check (and refresh) the resolvers make; remembered for this request.
            try:
                session = await context.counter_sessions.touch(principal.subject, customer_id)
            except CounterSessionUnavailable:
                session = None  # unknown: answered (and cached) as without a session
            in_session = context.sessions_checked[customer_id] = session is not None
        # Shared only by callers whose relation to every customer is the same (the policy's
        # own inputs to relation_of, so a new kind of relation cannot be missed here).
        scope = relation_inputs(principal, in_session)
        digest = hashlib.sha256(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return cached_answer(customer_id, operation, digest[:32], ":".join(scope))

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self.redis.get(key)
        except RedisError:
            return None  # answered without it; the outage itself is logged once (api/outages.py)
        return None if raw is None else self.parse(raw)

    @staticmethod
    def parse(raw: bytes | str) -> CachedAnswer:
        # Stored as the metadata's JSON, a NUL byte (never inside JSON text), the data's JSON.
        blob = raw if isinstance(raw, bytes) else raw.encode()
        meta, _, data = blob.partition(b"\0")
        return CachedAnswer(data=data, **orjson.loads(meta))

    async def serve(self, answer: CachedAnswer, context: Context, customer_id: int) -> bool:
        """Write the caller's read audit if the answer is still current; True when served."""
        entry = context.audit_entry(
            answer.operation, tuple(answer.customer_ids), tuple(answer.fields), answer.outcome
        )
        return await self.audit_log.record_if_current(
            entry, StillCurrent(customer_id, answer.version, answer.reference_version)
        )

    async def put(self, key: str, answer: CachedAnswer) -> None:
        meta = orjson.dumps(
            {
                "version": answer.version,
                "reference_version": answer.reference_version,
                "operation": answer.operation,
                "customer_ids": answer.customer_ids,
                "fields": answer.fields,
                "outcome": answer.outcome,
            }
        )
        # Not kept while Redis is away; the outage itself is logged once (api/outages.py).
        with contextlib.suppress(RedisError):
            await self.redis.set(key, meta + b"\0" + answer.data, ex=self.ttl)
