"""Traces with OpenTelemetry, off unless the standard OTEL_* variables ask for them.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and not
`OTEL_SDK_DISABLED=true`. The exporter, its endpoint, headers, timeouts, the sampler
(`OTEL_TRACES_SAMPLER`, `…_ARG`) and the resource (`OTEL_SERVICE_NAME`, default `quanjing`;
`OTEL_RESOURCE_ATTRIBUTES`) are the SDK's own reading of the standard variables.

A request's trace: the HTTP server span (the ASGI instrumentation), one span per GraphQL
operation named after it (`graphql call_center_profile`: api/http/graphql_view.py), the SQL
statements (SQLAlchemy's instrumentation), the Redis commands (redis-py's) and outgoing HTTP
(httpx's: a webhook delivery carries `traceparent`). Every log line carries the trace id.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncEngine

# The process's provider once tracing is configured; None: off (nothing is traced).
PROVIDER: TracerProvider | None = None
_engine_traced = False


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER")
    if exporter is not None:
        return exporter.strip().lower() not in ("", "none")
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporter_from_env() -> SpanExporter:
    name = (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").strip().lower()
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: quanjing ships otlp and console")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def configure_tracing(
    exporter: SpanExporter | None = None, *, batch: bool = True
) -> TracerProvider:
    """Set this process's tracing up (once): the provider, and the instrumentations of Redis
    and httpx. `exporter` and `batch=False` are for tests (an in-memory exporter)."""
    global PROVIDER
    if PROVIDER is not None:
        return PROVIDER
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "quanjing"}
    provider = TracerProvider(resource=Resource.create(attributes))
    chosen = exporter or _exporter_from_env()
    provider.add_span_processor(
        BatchSpanProcessor(chosen) if batch else SimpleSpanProcessor(chosen)
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    PROVIDER = provider
    return provider


def ensure_tracing() -> TracerProvider | None:
    """The process's provider: configured now if the environment asks for traces."""
    if PROVIDER is None and tracing_requested():
        configure_tracing()
    return PROVIDER


def instrument_engine(engine: AsyncEngine) -> None:
    """The engine's statements as spans. A process has one engine (api/bootstrap.py); the
    instrumentor, like every OpenTelemetry instrumentor, instruments once per process."""
    global _engine_traced
    if PROVIDER is None or _engine_traced:
        return
    _engine_traced = True
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine,
        tracer_provider=PROVIDER,
        enable_commenter=False,
        # Its metadata says SQLAlchemy < 2.1 and it would refuse 2.1 silently; what it hooks,
        # the engine's before/after_cursor_execute events, is unchanged in 2.1, and
        # tests/e2e/test_tracing.py checks the SQL spans are there.
        skip_dep_check=True,
    )


def tracer() -> Tracer | None:
    return None if PROVIDER is None else PROVIDER.get_tracer("quanjing")


def shutdown_tracing() -> None:
    """Undo `configure_tracing` (tests), flushing what the processors hold."""
    global PROVIDER, _engine_traced
    if PROVIDER is None:
        return
    RedisInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    SQLAlchemyInstrumentor().uninstrument()
    _engine_traced = False
    PROVIDER.shutdown()
    PROVIDER = None


def asgi_middleware_options() -> dict[str, Any]:
    """OpenTelemetryMiddleware's options: the health checks are not traced."""
    return {"tracer_provider": PROVIDER, "excluded_urls": "healthz,readyz"}
