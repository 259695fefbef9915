"""One access line and one measurement per HTTP request, and the operation name both are
labelled with.

The line says who asked for what and how it went: method, path, GraphQL operation, status,
milliseconds, the principal's role and subject, and (in every line) the correlation id. Never
the query's text or its variables: they hold names, document numbers and phones searched for.
"""

from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.authentication import UNAUTHENTICATED
from api.metrics import HTTP_REQUESTS, HTTP_SECONDS, route_of
from schema.core.persisted import registry

log = logging.getLogger("quanjing.access")

OPERATION = "quanjing.operation"  # scope state: the request's operation label
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_OPERATION_HEAD = re.compile(
    r"\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([A-Za-z_]\w*)"
)
# Names a client made up are labels too, but only so many: a client sending a new name with
# every request must not grow the metrics without bound. Beyond these, "other".
MAX_CLIENT_NAMES = 200
_client_names: set[str] = set()


@lru_cache(maxsize=1)
def _registered() -> dict[str, str]:
    return {operation.query: operation.name for operation in registry().values()}


def operation_label(body: dict[str, Any], text: str | None) -> str:
    """The registered operation's name; else the operationName the client sent (or the
    document's own, `query Name …`), when it is a plain name (one of the first
    MAX_CLIENT_NAMES seen, else "other"); else "anonymous"."""
    registered = _registered().get(text or "")
    if registered is not None:
        return registered
    name = body.get("operationName") or _named_in(text)
    if not isinstance(name, str) or not name:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "other"
    if name not in _client_names:
        if len(_client_names) >= MAX_CLIENT_NAMES:
            return "other"
        _client_names.add(name)
    return name


def _named_in(text: str | None) -> str | None:
    """The name of a document's (first) operation, read without parsing the document."""
    found = _OPERATION_HEAD.match(text[:300]) if text else None
    return found.group(1) if found else None


def label_request(scope: Scope, body: dict[str, Any], text: str | None) -> None:
    scope.setdefault("state", {})[OPERATION] = operation_label(body, text)


class AccessLogMiddleware:
    """Pure ASGI, inside the correlation id's middleware (so the line carries it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            state = scope.get("state", {})
            operation = state.get(OPERATION, "-")
            principal = state.get("principal", UNAUTHENTICATED)
            known = principal is not UNAUTHENTICATED
            role = principal.role.value if known else "-"
            subject = principal.subject if known else "-"
            route = route_of(scope["path"])
            HTTP_REQUESTS.labels(route, str(status), operation).inc()
            HTTP_SECONDS.labels(route, operation).observe(seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %s %d %.1f ms %s:%s",
                    scope["method"],
                    scope["path"],
                    operation,
                    status,
                    seconds * 1000,
                    role,
                    subject,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "operation": operation,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                        "role": role,
                        "subject": subject,
                    },
                )
