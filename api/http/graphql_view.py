"""The GraphQL endpoint: strawberry's ASGI view with our context, JSON and error masking."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from api.http.access_log import OPERATION, label_request
from api.http.authentication import UNAUTHENTICATED, is_ide_page
from api.http.correlation import current_correlation_id
from api.http.envelope import error_body
from api.http.graphiql import local_graphiql_html
from api.http.graphql_ws import REJECTION, TransportWSHandler
from api.http.media_types import (
    GRAPHQL_RESPONSE,
    JSON,
    content_type,
    is_request_error,
    negotiate,
    request_error_status,
)
from api.http.persisted_requests import LearnedQueries, RequestRefused, query_text
from api.http.profile_lane import RATE_CHARGED, ProfileLane, is_json, read_body, replay
from api.http.tokens import AuthError, TokenVerifier
from api.metrics import GRAPHQL_ERRORS, RATE_LIMITED
from api.redis.response_cache import ResponseCache
from api.tracing import tracer
from domain.access.principal import Principal
from schema.core.context import Context, Ports
from schema.core.error_masking import UNAVAILABLE_CODES, masked
from schema.core.errors import UserFacingError
from schema.core.query_cost import RateLimited

log = logging.getLogger(__name__)


def mask_error(error: GraphQLError, correlation_id: str) -> dict[str, Any]:
    """The client's view of an error: masked by the schema already (schema/core/error_masking.py),
    and again here for an error that did not pass through it."""
    return dict(masked(error, correlation_id).formatted)


def _header(request: Request | WebSocket, name: str, limit: int) -> str:
    value = request.headers.get(name, "").strip()
    return value[:limit] if value else "unspecified"


ACK: UnsetType = UNSET  # connection_ack without a payload


# Strawberry's own refusals carry only a status and a sentence; the code follows the status.
_CODE_OF_STATUS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def refusal(error: HTTPException) -> Response:
    """A refused request as JSON, like every other error: the sentence and a code."""
    code = getattr(error, "code", None) or _CODE_OF_STATUS.get(error.status_code, "BAD_REQUEST")
    reason = error.reason
    cause = error.__cause__
    if (
        isinstance(cause, InvalidOperationTypeError)
        and cause.operation_type is OperationType.SUBSCRIPTION
    ):
        code = "SUBSCRIPTION_NEEDS_WEBSOCKET"
        reason = "subscriptions are served over the websocket at /graphql (graphql-transport-ws)"
    body = error_body(reason, code)
    return Response(
        orjson.dumps(body), status_code=error.status_code, media_type="application/json"
    )


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        *args: Any,
        verifier: TokenVerifier | None,
        learned: LearnedQueries | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.verifier = verifier
        self.learned = learned  # development's automatic persisted queries; None in production
        # Set by the application's lifespan (`serve_with`; api/bootstrap.py builds them).
        self.ports: Ports | None = None
        self.lane: ProfileLane | None = None

    def serve_with(self, ports: Ports, cache: ResponseCache | None) -> None:
        self.ports = ports
        self.lane = ProfileLane(ports, cache, self._context, self.process_result)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A registered profile is answered by its lane (api/http/profile_lane.py) before the
        GraphQL view parses anything; everything else, and any profile request the lane cannot
        answer, goes to the view with the body replayed."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # websockets
            return
        traced = tracer()
        if traced is None:
            await self._answer(scope, receive, send)
            return
        # One span per GraphQL operation, named once its name is known (api/tracing.py).
        with traced.start_as_current_span("graphql") as span:
            try:
                await self._answer(scope, receive, send)
            finally:
                operation = scope.get("state", {}).get(OPERATION, "anonymous")
                span.update_name(f"graphql {operation}")
                span.set_attribute("graphql.operation.name", operation)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST" or self.lane is None or not is_json(scope):
            await self._view(scope, receive, send)
            return
        body = await read_body(receive)
        media = negotiate(
            next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept"), None)
        )
        status = 200
        payload = await self._refused_early(scope, body)
        if payload is not None and media == GRAPHQL_RESPONSE:
            refused = orjson.loads(payload)
            status = request_error_status(refused)
            payload = orjson.dumps({k: v for k, v in refused.items() if k != "data"})
        if payload is None:
            payload = await self.lane.answer(scope, body)  # a profile: always data, 200
        if payload is None:
            await self._view(scope, replay(body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type(media)),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _refused_early(self, scope: Scope, body: bytes) -> bytes | None:
        """RATE_LIMITED for a caller whose bucket cannot yet pay for this request, known from
        its last refusal (domain/access/rate_limits.RefusalMemory): answered before anything
        is parsed or sent to Redis, so that refusals cost next to nothing (issue 22, 8)."""
        limiter = self.ports.rate_limiter if self.ports is not None else None
        principal = scope.get("state", {}).get("principal", UNAUTHENTICATED)
        if limiter is None or principal is UNAUTHENTICATED:
            return None
        bucket = principal.caller
        refusals = limiter.refusals
        if not refusals.has_refused(bucket):
            return None  # the common case: one dictionary lookup
        try:
            data = orjson.loads(body)
            text = query_text(data) if isinstance(data, dict) else None
        except (orjson.JSONDecodeError, RequestRefused):
            return None  # the view refuses it with its own code
        if isinstance(data, dict):
            label_request(scope, data, text)
        retry = refusals.retry_after(bucket, refusals.cost_of(text))
        if retry is None:
            return None
        RATE_LIMITED.labels("early").inc()
        refused = ExecutionResult(data=None, errors=[UserFacingError(RateLimited(retry))])
        return orjson.dumps(await self.process_result(Request(scope), refused))

    async def _view(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's HTTP handling (`GraphQL.__call__`), with its refusals as JSON with a
        code instead of a plain-text sentence."""
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            response = refusal(error)
        await response(scope, receive, send)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if context.principal is not UNAUTHENTICATED:
            return ACK  # authenticated by the handshake's Authorization header
        params = getattr(context, "connection_params", None) or {}
        raw = params.get("authorization") or params.get("Authorization") or ""
        scheme, _, token = str(raw).partition(" ")
        if self.verifier is None or scheme.lower() != "bearer" or not token.strip():
            REJECTION.set("TOKEN_MISSING")
            raise ConnectionRejectionError({"code": "TOKEN_MISSING"})
        try:
            context.principal = await self.verifier.verify(token.strip())
        except AuthError as exc:
            REJECTION.set(exc.code)
            raise ConnectionRejectionError({"code": exc.code}) from exc
        return ACK

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if isinstance(response, Response):
            request.state.sub_response = response  # its status and headers are the answer's
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

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # The answer's media type, from the Accept header (api/http/media_types.py).
        sub_response.media_type = negotiate(request.headers.get("accept"))
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = content_type(media).decode()
        return response

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        # A GraphQL request is a JSON object; anything else is the client's mistake (400), not
        # a server failure. Lists are left to the batching check, which refuses them.
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return decoded

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        """A GET's parameters: `variables` and `extensions` are plain JSON (strawberry decodes
        them with `parse_json`, whose persisted-id lookup below took a variable named `id` for
        a persisted operation's id, refusing urql's and Apollo's GETs); the parameters as a
        whole are the request, which may name a persisted operation."""
        parsed = dict(params)
        for name in ("variables", "extensions"):
            if parsed.get(name):
                parsed[name] = self.decode_json(parsed[name])
        parsed["query"] = query_text(parsed, self.learned)
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(local_graphiql_html())

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL's page only for a browser asking for it (api/http/authentication.py):
        strawberry's own test also took a hash-only GET sent with `Accept: */*` for a page
        request, so Apollo's and urql's persisted-query GETs never resolved."""
        return is_ide_page(
            request.method, request.query_params.keys(), request.headers.get("accept", "")
        )

    def parse_json(self, data: str | bytes) -> Any:
        # HTTP bodies only: websocket messages (which carry an "id" of their own) are decoded
        # by decode_json directly and never name a persisted operation.
        body = super().parse_json(data)
        if isinstance(body, dict):
            body["query"] = query_text(body, self.learned)  # a registered (or learned) text
        return body

    def encode_json(self, data: object) -> str:
        # Text, not bytes: the websocket transport sends bytes as binary frames, which
        # graphql-transport-ws clients in browsers cannot parse.
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The read audit is written by the schema (schema/core/read_audit.py) on every transport.
        correlation_id = current_correlation_id()
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            errors = [mask_error(e, correlation_id) for e in result.errors]
            for error in errors:
                GRAPHQL_ERRORS.labels(str(error.get("extensions", {}).get("code", "-"))).inc()
            _unavailable_is_503(request, errors)
            response["errors"] = list(errors)
        if result.extensions:
            response["extensions"] = result.extensions
        sub_response = getattr(request.state, "sub_response", None)
        if (
            isinstance(sub_response, Response)
            and sub_response.media_type == GRAPHQL_RESPONSE
            and is_request_error(dict(response))
        ):
            # The operation never ran: 4xx and no `data` entry (a 503 set above stays).
            if sub_response.status_code is None:
                sub_response.status_code = request_error_status(dict(response))
            del response["data"]
        return response


def _unavailable_is_503(request: Request, errors: list[dict[str, Any]]) -> None:
    """A request that could not be served because a dependency is away answers 503 with
    Retry-After (the longest any of its errors asks for), not 200: load balancers and clients'
    retry policies act on the status."""
    waits = [
        int(e.get("extensions", {}).get("retryAfter", 1))
        for e in errors
        if e.get("extensions", {}).get("code") in UNAVAILABLE_CODES
    ]
    sub_response = getattr(request.state, "sub_response", None)
    if waits and isinstance(sub_response, Response):
        sub_response.status_code = 503
        sub_response.headers["retry-after"] = str(max(waits))
