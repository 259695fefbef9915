"""The GraphQL endpoint: strawberry's ASGI view with our context, JSON and error masking."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.correlation import current_correlation_id
from domain.errors import DomainError
from domain.ports import ProfileReader
from schema.context import Context
from schema.errors import UserFacingError

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error. Quote the correlation id when reporting it."


def _is_user_facing(error: GraphQLError) -> bool:
    if error.original_error is None:
        return True  # syntax and validation errors: about the query text, safe to return
    # Resolvers raise UserFacingError; graphql-core wraps it in a located GraphQLError.
    return isinstance(error.original_error, UserFacingError | DomainError)


def mask_error(error: GraphQLError, correlation_id: str) -> dict[str, Any]:
    """The client's view of an error: expected ones as they are, everything else generic."""
    if _is_user_facing(error):
        formatted: dict[str, Any] = dict(error.formatted)
        if error.original_error is None:
            extensions = dict(formatted.get("extensions") or {})
            extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
            formatted["extensions"] = extensions
        return formatted
    log.error(
        "unexpected error at %s",
        ".".join(map(str, error.path or ())) or "<operation>",
        exc_info=error.original_error,
        extra={"correlation_id": correlation_id},
    )
    masked = StrawberryGraphQLError(
        INTERNAL_MESSAGE,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id},
    )
    return dict(masked.formatted)


class GraphQLEndpoint(GraphQL[Context, None]):
    reader: ProfileReader | None = None  # set by the application's lifespan

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if self.reader is None:
            raise RuntimeError("the GraphQL endpoint is used before the lifespan started")
        return Context(reader=self.reader, correlation_id=current_correlation_id())

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        # A GraphQL request is a JSON object; anything else is the client's mistake (400), not
        # a server failure. Lists are left to the batching check, which refuses them.
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return decoded

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            correlation_id = current_correlation_id()
            response["errors"] = [mask_error(e, correlation_id) for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response
