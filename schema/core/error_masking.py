"""Which errors a client may see as they are, and the generic error that replaces the rest.

Applied once, where strawberry hands every result's errors to the schema
(`QuanjingSchema.process_errors`) before any transport formats them: an HTTP response and a
websocket `next` or `error` message get the same masking, and the original is logged once with
the request's correlation id.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

from domain.errors import DomainError
from schema.core.errors import UserFacingError

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error. Quote the correlation id when reporting it."


def is_about_the_request(error: GraphQLError) -> bool:
    """Syntax and validation errors (no original error), and a variable its type cannot take,
    found before execution (no path) with the scalar's coercion error: graphql-core's own
    ("String cannot represent a non string value") or strawberry's (a DateTime that is not
    one). All describe the request's own text and values."""
    original = error.original_error
    return original is None or (
        error.path is None and isinstance(original, GraphQLError | StrawberryInputCoercionError)
    )


def is_expected(error: GraphQLError) -> bool:
    """Raised by our own code for the client (resolvers raise UserFacingError or a
    DomainError; graphql-core wraps it in a located GraphQLError)."""
    return isinstance(error.original_error, UserFacingError | DomainError)


def masked(error: GraphQLError, correlation_id: str) -> GraphQLError:
    """The error itself when the client may see it (a request error with the code
    GRAPHQL_VALIDATION_FAILED added); otherwise a generic one, logged."""
    if is_expected(error):
        return error
    if is_about_the_request(error):
        if error.extensions and "code" in error.extensions:
            return error
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions={**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"},
        )
    log.error(
        "unexpected error at %s",
        ".".join(map(str, error.path or ())) or "<operation>",
        exc_info=error.original_error,
        extra={"correlation_id": correlation_id},
    )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id},
    )
