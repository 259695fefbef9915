"""The registered profiles' HTTP lane: answered before the GraphQL view parses anything.

A request for a registered profile (schema/customers/registered.py) costs, when its answer is
cached and current, one Redis round trip (the caller's scope, the rate limit and the cached
answer together) and one audit INSERT; otherwise one snapshot statement, a walk and the audit.
Anything this lane cannot answer — another operation, a refused caller, a customer not found or
denied, a rate limit reached — goes to the view with the body replayed, and is answered there
exactly as it would have been.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope
from strawberry.types import ExecutionResult

from api.http.access_log import label_request
from api.http.authentication import UNAUTHENTICATED
from api.http.correlation import current_correlation_id
from api.http.envelope import error_body
from api.http.persisted_requests import RequestRefused, query_text
from api.metrics import RESPONSE_CACHE
from api.redis.rate_limits import RedisTokenBuckets
from api.redis.response_cache import CachedAnswer, ResponseCache
from schema.core.context import Context, Ports
from schema.core.errors import UserFacingError
from schema.core.query_cost import RateLimited, operation_cost
from schema.core.read_audit import AuditUnavailable, write_read_audit
from schema.customers.registered import RegisteredProfile, cacheable, registered_profiles

log = logging.getLogger(__name__)

RATE_CHARGED = "quanjing.rate_charged"  # scope state: the lane charged this request


def is_json(scope: Scope) -> bool:
    """A JSON body, as the view requires of a POST (anything else it refuses itself)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the view: the body already read, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def audit_unavailable(correlation_id: str) -> dict[str, Any]:
    """No audit, no data: personal data never leaves without its record."""
    error = AuditUnavailable(correlation_id)
    return error_body(error.message, error.code, **error.details())


class ProfileLane:
    def __init__(
        self,
        ports: Ports,
        cache: ResponseCache | None,
        context_of: Callable[[Request], Context],
        respond: Callable[[Request, ExecutionResult], Awaitable[object]],
    ) -> None:
        self.ports = ports
        self.cache = cache
        self.context_of = context_of  # the view's own context, as it would build it
        self.respond = respond  # the view's own answer (masked errors) for a refusal
        self.profiles = registered_profiles()

    async def answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The response body, or None: let the view answer."""
        snapshots = self.ports.snapshots
        try:
            data = orjson.loads(body)
            if not isinstance(data, dict):
                return None  # the view refuses it, with its code
            text = query_text(data)
        except (orjson.JSONDecodeError, RequestRefused):
            return None
        label_request(scope, data, text)
        profile = self.profiles.get(text or "")
        variables = data.get("variables") or {}
        if (
            profile is None
            or snapshots is None
            or not isinstance(variables, dict)
            or data.get("operationName") not in (None, profile.operation_name)
        ):
            return None
        request = Request(scope)
        context = self.context_of(request)
        customer_id = profile.customer_of(variables, context)
        if customer_id is None or context.principal is UNAUTHENTICATED:
            return None
        cost = float(operation_cost(profile.query, variables))
        limiter = context.rate_limiter
        if limiter is not None:
            limiter.refusals.remember_cost(text, cost)
        if limiter is not None and cost > limiter.capacity:
            return None  # the view refuses it with QUERY_TOO_COSTLY, charging nothing
        cache = self.cache
        key = (
            None
            if cache is None
            else await cache.key(profile.name, variables, customer_id, context)
        )
        retry, answer = await self._charge_and_look_up(context, cost, key)
        if retry is not None:
            # The same answer the executor's rate-limit extension gives, charged once.
            refused = ExecutionResult(data=None, errors=[UserFacingError(RateLimited(retry))])
            return orjson.dumps(await self.respond(request, refused))
        # Charged: whoever answers from here on does not charge again.
        scope.setdefault("state", {})[RATE_CHARGED] = True
        context.rate_limiter = None
        if cache is not None and key is not None and answer is None:
            RESPONSE_CACHE.labels("miss").inc()
        if cache is not None and answer is not None:
            try:
                if await cache.serve(answer, context, customer_id):
                    RESPONSE_CACHE.labels("hit").inc()
                    return b'{"data":' + answer.data + b"}"
                RESPONSE_CACHE.labels("stale").inc()
            except Exception as exc:
                if self._unexpected(exc):
                    log.exception("a cached answer could not be audited; answering afresh")
        return await self._walk(profile, context, customer_id, key)

    async def _walk(
        self, profile: RegisteredProfile, context: Context, customer_id: int, key: str | None
    ) -> bytes | None:
        assert self.ports.snapshots is not None
        consistency = context.consistency
        reading = (
            contextlib.nullcontext()
            if consistency is None
            else consistency.reading(context.principal.caller)
        )
        try:
            async with reading:  # a replica that has the caller's writes may answer
                snapshot = await self.ports.snapshots.profile_snapshot(
                    customer_id, profile.timeline_first, frozenset(profile.parts)
                )
            rendered = await profile.render(context, snapshot, customer_id)
        except Exception as exc:
            # The view answers instead, with its masked error if the failure persists.
            if self._unexpected(exc):
                log.exception("the profile lane failed; executing instead")
            return None
        if rendered is None:
            return None
        result = ExecutionResult(data=rendered, errors=None)
        if not await write_read_audit(context, returned=True):
            return orjson.dumps(audit_unavailable(current_correlation_id()))
        data = orjson.dumps(rendered)
        if self.cache is not None and key is not None and cacheable(result, context):
            audit = context.audit
            await self.cache.put(
                key,
                CachedAnswer(
                    data=data,
                    version=snapshot.version,
                    reference_version=snapshot.reference_version,
                    operation=audit.operation,
                    customer_ids=sorted(audit.seen),
                    fields=list(audit.fields()),
                    outcome="returned",
                ),
            )
        return b'{"data":' + data + b"}"

    def _unexpected(self, error: Exception) -> bool:
        """Not a dependency's outage (that is logged once, where it is recorded)."""
        outages = self.ports.outages
        return outages is None or outages(error) is None

    async def _charge_and_look_up(
        self, context: Context, cost: float, key: str | None
    ) -> tuple[float | None, CachedAnswer | None]:
        """(seconds to wait when the rate limit is reached, cached answer) — one Redis round
        trip when both live there."""
        limiter, cache = context.rate_limiter, self.cache
        bucket = context.principal.caller
        if isinstance(limiter, RedisTokenBuckets) and cache is not None and key is not None:
            retry, raw = await limiter.acquire_and_get(bucket, cost, key)
            return retry, None if raw is None or retry is not None else cache.parse(raw)
        retry = None if limiter is None else await limiter.acquire(bucket, cost)
        if retry is not None:
            return retry, None
        return None, None if cache is None or key is None else await cache.get(key)
