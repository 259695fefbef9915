"""CORS for browser channels (a web banking front end, an agent desktop served from its own
origin): Starlette's middleware, limited to what /graphql needs, with its refusal in our shape.

Origins come from QUANJING_CORS_ORIGINS only; none by default, in production and development
alike (GraphiQL is served from the same origin and needs none). A preflight (`OPTIONS` with
`Access-Control-Request-Method`) is answered here, before authentication: a browser never
sends the token with it. No credentials (the token travels in `Authorization`, not a cookie).
"""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from api.http.envelope import error_body

ALLOWED_METHODS = ("GET", "POST")
# What a channel's request carries (docs/schema-guide.md): the token, the body's type, the
# caller's correlation id, channel and purpose for the audit.
ALLOWED_HEADERS = ("authorization", "content-type", "x-request-id", "x-channel", "x-purpose")
# What a browser client may read of an answer: the correlation id to quote, when to retry.
EXPOSED_HEADERS = ("x-request-id", "retry-after")
PREFLIGHT_CACHE_SECONDS = 600


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=list(ALLOWED_METHODS),
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=PREFLIGHT_CACHE_SECONDS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        cors_headers = {k: v for k, v in answer.headers.items() if k.startswith("access-control")}
        if answer.status_code == 200:
            # 204 and no body (Starlette's is the text "OK"): all a browser reads are headers.
            return Response(status_code=204, headers={**cors_headers, "vary": "Origin"})
        # Starlette says "Disallowed CORS origin" in plain text; every refusal here is JSON
        # with a code. The browser reads neither, but a developer's tools show it.
        reason = bytes(answer.body).decode()
        body = error_body(f"{reason}: see QUANJING_CORS_ORIGINS", "CORS_NOT_ALLOWED")
        return Response(
            orjson.dumps(body),
            status_code=answer.status_code,
            media_type="application/json",
            headers=cors_headers,
        )
