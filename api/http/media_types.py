"""GraphQL over HTTP's two response media types, and what each says about status codes.

`application/json` is the legacy type: every GraphQL answer is 200, request errors included.
`application/graphql-response+json` (the GraphQL-over-HTTP specification's own) lets a client
tell a request that never ran from one that did: a request error (the document does not parse
or validate, the variables do not coerce, a refusal before execution) is a 4xx without a
`data` entry; a response with `data`, even null, is 2xx.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

# What a refusal before execution answers under graphql-response+json, by its code.
_REQUEST_ERROR_STATUS = {"RATE_LIMITED": 429}


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header: graphql-response+json when the client
    prefers it (by q, then order), application/json otherwise (also for no header, `*/*` and
    types we do not serve, as the specification allows for legacy clients)."""
    if not accept or GRAPHQL_RESPONSE not in accept.lower():
        return JSON  # nearly every request: no parsing
    best, best_q = JSON, -1.0
    for position, item in enumerate((accept or "").split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media.lower() in (GRAPHQL_RESPONSE, JSON, "application/*", "*/*") and q > best_q:
            best = GRAPHQL_RESPONSE if media.lower() == GRAPHQL_RESPONSE else JSON
            best_q = q - position * 1e-6  # equal q: the first listed wins
    return best


def is_request_error(response: dict[str, Any]) -> bool:
    """No data and only errors outside any field: the operation never ran (parse, validation,
    variable coercion, a limit or refusal before execution)."""
    errors = response.get("errors") or []
    return response.get("data") is None and bool(errors) and not any("path" in e for e in errors)


def request_error_status(response: dict[str, Any]) -> int:
    codes = [e.get("extensions", {}).get("code") for e in response.get("errors") or []]
    return next((_REQUEST_ERROR_STATUS[c] for c in codes if c in _REQUEST_ERROR_STATUS), 400)


def content_type(media: str) -> bytes:
    return f"{media}; charset=utf-8".encode()
