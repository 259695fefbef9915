"""Which media type an Accept header gets, and which answers are request errors."""

from __future__ import annotations

import pytest

from api.http.media_types import (
    GRAPHQL_RESPONSE,
    JSON,
    is_request_error,
    negotiate,
    request_error_status,
)


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),  # a type we do not serve: JSON, as the spec allows legacy clients
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json", GRAPHQL_RESPONSE),  # graphql-http's client
        (f"application/json, {GRAPHQL_RESPONSE}", JSON),  # equal q: the first listed
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", JSON),
        (f"{GRAPHQL_RESPONSE};q=nonsense, application/json;q=0.1", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
    ],
)
def test_the_preferred_type_wins(accept: str | None, media: str) -> None:
    assert negotiate(accept) == media


def test_a_request_error_has_no_data_and_no_field_error() -> None:
    parse = {"data": None, "errors": [{"message": "Syntax Error", "locations": []}]}
    field = {"data": None, "errors": [{"message": "forbidden", "path": ["viewer"]}]}
    partial = {"data": {"a": 1}, "errors": [{"message": "x"}]}
    assert is_request_error(parse)
    assert not is_request_error(field)  # executed: data null from a field, still 200
    assert not is_request_error(partial)
    assert not is_request_error({"data": None})
    assert request_error_status(parse) == 400
    limited = {"data": None, "errors": [{"extensions": {"code": "RATE_LIMITED"}}]}
    assert request_error_status(limited) == 429
