"""Which errors a client may see as they are, and the generic error that replaces the rest.

Applied once, where strawberry hands every result's errors to the schema
(`QuanjingSchema.process_errors`) before any transport formats them: an HTTP response and a
websocket `next` or `error` message get the same masking, and the original is logged once with
the request's correlation id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

from domain.errors import DependencyUnavailable, DomainError, NotFound
from schema.core.errors import UserFacingError, as_sent

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


def masked(
    error: GraphQLError,
    correlation_id: str,
    outages: Callable[[BaseException | None], DependencyUnavailable | None] | None = None,
) -> GraphQLError:
    """The error itself when the client may see it (a request error with the code
    GRAPHQL_VALIDATION_FAILED added); a dependency's outage as SERVICE_UNAVAILABLE naming it
    (not logged: the outage is, once, by api/outages.py); otherwise a generic one, logged."""
    if is_expected(error):
        original = error.original_error
        if isinstance(original, DependencyUnavailable):
            return unavailable(error, original, correlation_id)
        if isinstance(original, NotFound) and not isinstance(error, UserFacingError):
            shown = as_sent(original)  # the client's id, never the row number
            return GraphQLError(
                shown.message,
                nodes=error.nodes,
                path=error.path,
                original_error=shown,
                extensions={**(error.extensions or {}), "code": shown.code},
            )
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
    outage = None if outages is None else outages(error.original_error)
    if outage is not None:
        return unavailable(error, outage, correlation_id)
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


UNAVAILABLE_CODES = frozenset({"SERVICE_UNAVAILABLE", "COUNTER_SESSION_UNAVAILABLE"})


def unavailable(
    error: GraphQLError, outage: DependencyUnavailable, correlation_id: str
) -> GraphQLError:
    """The client's error for a dependency that is away: the HTTP layer answers 503 with
    Retry-After when a result carries one (api/http/graphql_view.py)."""
    return GraphQLError(
        outage.message,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": outage.code, **outage.details(), "correlationId": correlation_id},
    )
