"""Deny by default: every route but the health probes needs a valid bearer token."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.envelope import send_error
from api.http.tokens import AuthError, TokenVerifier
from domain.access.principal import Principal, Role

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# GraphiQL's vendored scripts and styles (api/http/graphiql.py): public files, no data.
IDE_ASSETS = "/graphiql/"
# Held by a websocket context until connection_init proves who is there; a connection that
# never does is closed (4403) before it can subscribe, so this principal is never served.
UNAUTHENTICATED = Principal(subject="unauthenticated", role=Role.CUSTOMER, customer_id=0)


# What makes a GET a GraphQL request rather than the IDE's page: any of these parameters.
_REQUEST_PARAMETERS = frozenset({"query", "id", "extensions", "variables", "operationName"})


def is_ide_page(method: str, parameters: Iterable[str], accept: str) -> bool:
    """A browser asking for the GraphiQL page: a GET for HTML with no GraphQL request in it.
    A hash-only GET (`?extensions=…` or `?id=…`, Apollo's and urql's persisted queries) is a
    request, sent with `Accept: */*`: it is answered as one, and authenticated as one."""
    return (
        method == "GET"
        and not _REQUEST_PARAMETERS.intersection(parameters)
        and "text/html" in accept
    )


class AuthenticationMiddleware:
    """Puts the Principal in `scope["state"]["principal"]`, or answers 401 (503 when the
    token cannot be checked now) with a code."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, *, ide_open: bool) -> None:
        self.app = app
        self.verifier = verifier
        # Development only: the GraphiQL page itself (a GET with no query) carries no data,
        # and a browser cannot add a header to it; queries from it still need a token.
        self.ide_open = ide_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
            or (self.ide_open and scope["path"].startswith(IDE_ASSETS))
        ):
            await self.app(scope, receive, send)
            return
        if (
            self.ide_open
            and scope["type"] == "http"
            and scope["method"] == "GET"  # cheap first: every POST passes here
            and is_ide_page(
                scope["method"],
                parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
                next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept"), ""),
            )
        ):
            await self.app(scope, receive, send)
            return
        authorization = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), ""
        )
        if scope["type"] == "websocket" and not authorization:
            # Browsers cannot set headers on a websocket: the token then comes in the
            # graphql-transport-ws connection_init payload, checked before any subscription.
            await self.app(scope, receive, send)
            return
        scheme, _, token = authorization.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("TOKEN_MISSING", "send an Authorization: Bearer <token> header")
            principal = await self.verifier.verify(token.strip())
        except AuthError as exc:
            if scope["type"] == "websocket":
                # Accepted, then closed: a close before the accept becomes HTTP 403, which a
                # client only sees as 1006 ("abnormal"), without the code. 4401 for the token
                # (sign in again), 1013 "try again later" when the fault is ours.
                close = 4401 if exc.status == 401 else 1013
                if (await receive())["type"] == "websocket.connect":
                    offered = scope.get("subprotocols") or []
                    chosen = "graphql-transport-ws" if "graphql-transport-ws" in offered else None
                    await send({"type": "websocket.accept", "subprotocol": chosen})
                    await send({"type": "websocket.close", "code": close, "reason": exc.code})
                return
            if exc.status == 401:
                challenge = f'Bearer error="invalid_token", error_description="{exc.code}"'
                headers = [(b"www-authenticate", challenge.encode())]
            else:  # our fault, not the token's: the client keeps it and retries
                headers = [(b"retry-after", str(exc.retry_after or 1).encode())]
            # The same shape as every other error a client gets, with the code to act on.
            await send_error(send, exc.status, exc.message, exc.code, headers)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
