"""The GraphQL endpoint: strawberry's ASGI view with our context, JSON and error masking."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api.http.correlation import current_correlation_id
from api.http.envelope import error_body
from api.http.fast_path import cacheable, customer_of, fast_paths
from api.http.graphql_ws import TransportWSHandler
from api.http.profile_render import RegisteredProfile
from api.http.tokens import AuthError, TokenVerifier
from api.redis.rate_limits import RedisTokenBuckets
from api.redis.response_cache import CachedAnswer, ResponseCache
from domain.access.principal import Principal, Role
from schema.context import Context, Ports
from schema.error_masking import masked
from schema.errors import UserFacingError
from schema.persisted import registry
from schema.query_cost import RateLimited, operation_cost
from schema.read_audit import AuditUnavailable, write_read_audit

log = logging.getLogger(__name__)


def mask_error(error: GraphQLError, correlation_id: str) -> dict[str, Any]:
    """The client's view of an error: masked by the schema already (schema/error_masking.py),
    and again here for an error that did not pass through it."""
    return dict(masked(error, correlation_id).formatted)


def _header(request: Request | WebSocket, name: str, limit: int) -> str:
    value = request.headers.get(name, "").strip()
    return value[:limit] if value else "unspecified"


# Held by a websocket context until connection_init proves who is there; a connection that
# never does is closed (4403) before it can subscribe, so this principal is never served.
ACK: UnsetType = UNSET  # connection_ack without a payload
UNAUTHENTICATED = Principal(subject="unauthenticated", role=Role.CUSTOMER, customer_id=0)


def audit_unavailable(correlation_id: str) -> dict[str, Any]:
    """No audit, no data: personal data never leaves without its record."""
    error = AuditUnavailable(correlation_id)
    return error_body(error.message, error.code, **error.details())


RATE_CHARGED = "quanjing.rate_charged"  # scope state: the cache lane charged this request


def _is_json(scope: Scope) -> bool:
    """A JSON body, as the view requires of a POST (anything else it refuses itself)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the view: the body already read, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestRefused(HTTPException):
    """A request the view cannot run, with the code a client acts on."""

    def __init__(self, status_code: int, code: str, reason: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


# Strawberry's own refusals carry only a status and a sentence; the code follows the status.
_CODE_OF_STATUS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def refusal(error: HTTPException) -> Response:
    """A refused request as JSON, like every other error: the sentence and a code."""
    code = getattr(error, "code", None) or _CODE_OF_STATUS.get(error.status_code, "BAD_REQUEST")
    body = error_body(error.reason, code)
    return Response(
        orjson.dumps(body), status_code=error.status_code, media_type="application/json"
    )


def _digest(body: dict[str, object]) -> str | None:
    """The sha256 a request names: `id`, or Apollo's `extensions.persistedQuery.sha256Hash`."""
    extensions = body.get("extensions")
    apq = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = body.get("id") or (apq.get("sha256Hash") if isinstance(apq, dict) else None)
    return None if digest is None else str(digest)


def _is_own_hash(digest: str, query: object) -> bool:
    """An unregistered text sent with its own sha256, as Apollo's automatic persisted queries
    retry after PERSISTED_QUERY_NOT_FOUND: run as the text it is."""
    return isinstance(query, str) and hashlib.sha256(query.encode()).hexdigest() == digest


def registered_text(body: dict[str, object]) -> str | None:
    """The query text a request names: its registered text by id, or the text it sends."""
    digest = _digest(body)
    query = body.get("query")
    if digest is None or _is_own_hash(digest, query):
        return query if isinstance(query, str) else None
    operation = registry().get(digest)
    if operation is None or query not in (None, operation.query):
        return None
    return operation.query


def resolve_persisted(body: dict[str, object]) -> None:
    """Put the registered text in place of a persisted operation's id (in place)."""
    digest = _digest(body)
    query = body.get("query")
    if digest is None or _is_own_hash(digest, query):
        return
    operation = registry().get(digest)
    if operation is None:
        if query is None:
            raise RequestRefused(
                400, "PERSISTED_QUERY_NOT_FOUND", "No registered operation has this id."
            )
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text does not hash to the id sent."
        )
    if query not in (None, operation.query):
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text is not the registered text of this id."
        )
    body["query"] = operation.query


class GraphQLEndpoint(GraphQL[Context, None]):
    # Set by the application's lifespan (api/bootstrap.py builds them).
    ports: Ports | None = None
    response_cache: ResponseCache | None = None
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, *args: Any, verifier: TokenVerifier | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verifier = verifier
        self.fast_paths = fast_paths()
        self.renderers = {query: RegisteredProfile(query) for query in self.fast_paths}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The registered call-center profile is answered here, before the GraphQL view parses
        anything (see `_answer_profile`); everything else, and any profile request this path
        cannot answer, goes to the view with the body replayed."""
        ports = self.ports
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # websockets
            return
        if (
            scope["method"] != "POST"
            or ports is None
            or ports.snapshots is None
            or not _is_json(scope)
        ):
            await self._view(scope, receive, send)
            return
        body = await _read_body(receive)
        payload = await self._answer_profile(scope, body, ports)
        if payload is None:
            await self._view(scope, _replay(body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _view(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's HTTP handling (`GraphQL.__call__`), with its refusals as JSON with a
        code instead of a plain-text sentence."""
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            response = refusal(error)
        await response(scope, receive, send)

    async def _answer_profile(self, scope: Scope, body: bytes, ports: Ports) -> bytes | None:
        """A registered profile request: the caller's scope, the rate limit and the cached
        answer in one Redis round trip; a current answer costs one audit INSERT. Otherwise the
        profile is read in one statement, walked (api/http/profile_render.py), audited and kept.
        None: let the view answer (another operation, a refused caller, a customer not found or
        denied, a rate limit reached)."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        fast = self.fast_paths.get(registered_text(data) or "")
        variables = data.get("variables") or {}
        if (
            fast is None
            or not isinstance(variables, dict)
            or data.get("operationName") not in (None, fast.operation_name)
        ):
            return None
        request = Request(scope)
        context = self._context(request)
        customer_id = customer_of(fast, variables, context)
        if customer_id is None or context.principal is UNAUTHENTICATED or ports.snapshots is None:
            return None
        cost = float(operation_cost(fast.query, variables))
        limiter = context.rate_limiter
        if limiter is not None and cost > limiter.capacity:
            return None  # the view refuses it with QUERY_TOO_COSTLY, charging nothing
        cache = self.response_cache
        key = None if cache is None else await cache.key(fast.name, variables, customer_id, context)
        retry, answer = await self._charge_and_look_up(context, cost, cache, key)
        if retry is not None:
            # The same answer the executor's rate-limit extension gives, charged once.
            refused = ExecutionResult(data=None, errors=[UserFacingError(RateLimited(retry))])
            return orjson.dumps(await self.process_result(request, refused))
        # Charged: whoever answers from here on does not charge again.
        scope.setdefault("state", {})[RATE_CHARGED] = True
        context.rate_limiter = None
        if cache is not None and answer is not None:
            try:
                if await cache.serve(answer, context, customer_id):
                    return b'{"data":' + answer.data + b"}"
            except Exception:
                log.exception("a cached answer could not be audited; answering afresh")
        try:
            snapshot = await ports.snapshots.profile_snapshot(customer_id, fast.timeline_first)
            rendered = await self.renderers[fast.query].render(context, snapshot, customer_id)
        except Exception:
            # The view answers instead, with its masked error if the failure persists.
            log.exception("the profile fast path failed; executing instead")
            return None
        if rendered is None:
            return None
        result = ExecutionResult(data=rendered, errors=None)
        if not await write_read_audit(context, returned=True):
            return orjson.dumps(audit_unavailable(current_correlation_id()))
        data = orjson.dumps(rendered)
        if cache is not None and key is not None and cacheable(result, context):
            audit = context.audit
            await cache.put(
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

    @staticmethod
    async def _charge_and_look_up(
        context: Context, cost: float, cache: ResponseCache | None, key: str | None
    ) -> tuple[float | None, CachedAnswer | None]:
        """(seconds to wait when the rate limit is reached, cached answer) — one Redis round
        trip when both live there."""
        limiter = context.rate_limiter
        bucket = f"{context.principal.role}:{context.principal.subject}"
        if isinstance(limiter, RedisTokenBuckets) and cache is not None and key is not None:
            retry, raw = await limiter.acquire_and_get(bucket, cost, key)
            return retry, None if raw is None or retry is not None else cache.parse(raw)
        retry = None if limiter is None else await limiter.acquire(bucket, cost)
        if retry is not None:
            return retry, None
        return None, None if cache is None or key is None else await cache.get(key)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if context.principal is not UNAUTHENTICATED:
            return ACK  # authenticated by the handshake's Authorization header
        params = getattr(context, "connection_params", None) or {}
        raw = params.get("authorization") or params.get("Authorization") or ""
        scheme, _, token = str(raw).partition(" ")
        if self.verifier is None or scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError({"code": "TOKEN_MISSING"})
        try:
            context.principal = await self.verifier.verify(token.strip())
        except AuthError as exc:
            raise ConnectionRejectionError({"code": exc.code}) from exc
        return ACK

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return self._context(request)

    def _context(self, request: Request | WebSocket) -> Context:
        if self.ports is None:
            raise RuntimeError("the GraphQL endpoint is used before the lifespan started")
        principal: Principal = request.scope.get("state", {}).get("principal", UNAUTHENTICATED)
        charged = request.scope.get("state", {}).get(RATE_CHARGED, False)
        context = Context.from_ports(
            self.ports,
            principal=principal,
            correlation_id=current_correlation_id(),
            channel=_header(request, "x-channel", 40),
            purpose=_header(request, "x-purpose", 80),
            charge=not charged,
        )
        request.state.graphql_context = context
        return context

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        # A GraphQL request is a JSON object; anything else is the client's mistake (400), not
        # a server failure. Lists are left to the batching check, which refuses them.
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return decoded

    def parse_json(self, data: str | bytes) -> Any:
        # HTTP bodies only: websocket messages (which carry an "id" of their own) are decoded
        # by decode_json directly and never name a persisted operation.
        body = super().parse_json(data)
        if isinstance(body, dict):
            resolve_persisted(body)
        return body

    def encode_json(self, data: object) -> str:
        # Text, not bytes: the websocket transport sends bytes as binary frames, which
        # graphql-transport-ws clients in browsers cannot parse.
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The read audit is written by the schema (schema/read_audit.py) on every transport.
        correlation_id = current_correlation_id()
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [mask_error(e, correlation_id) for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response
