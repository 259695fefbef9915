"""Prometheus metrics: the series, and serving them on a port of their own.

prometheus-client, in its multiprocess mode when `quanjing serve` runs several workers: each
process writes its samples to files under PROMETHEUS_MULTIPROC_DIR (set by `serve` before any
worker starts, `$QUANJING_HOME/metrics`, emptied at each start) and the one exposition, served
by the `serve` process itself on QUANJING_METRICS_PORT, sums them. `quanjing worker` serves its
own on its own QUANJING_METRICS_PORT. Off (port 0) by default; bound to 127.0.0.1 unless
QUANJING_METRICS_HOST says otherwise: never on the public listener.

Labels are bounded and never personal: routes, statuses, operation labels (registered names,
or at most MAX_CLIENT_NAMES names clients sent: api/http/access_log.py), error codes, states,
kinds. No customer id, name or value is ever a label (tests/integration/test_metrics.py).
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ROUTES = frozenset({"/graphql", "/healthz", "/readyz"})

HTTP_REQUESTS = Counter(
    "quanjing_http_requests",
    "HTTP requests answered, by route, status and GraphQL operation.",
    ["route", "status", "operation"],
)
HTTP_SECONDS = Histogram(
    "quanjing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and GraphQL operation.",
    ["route", "operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
GRAPHQL_ERRORS = Counter("quanjing_graphql_errors", "Errors in GraphQL answers, by code.", ["code"])
RATE_LIMITED = Counter(
    "quanjing_rate_limited",
    "Requests refused by the rate limit: by the bucket, or before parsing from the last refusal.",
    ["stage"],
)
RESPONSE_CACHE = Counter(
    "quanjing_response_cache",
    "Registered-profile answers looked up in the response cache: hit, stale or miss.",
    ["result"],
)
DB_POOL_IN_USE = Gauge(
    "quanjing_db_pool_in_use",
    "Database connections checked out of the pools.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "quanjing_db_pool_waiting",
    "Requests waiting for a database connection.",
    multiprocess_mode="livesum",
)
REPLICA_LAG = Gauge(
    "quanjing_replica_lag_seconds",
    "How long ago the primary was in the state a read replica shows, at its last poll.",
    ["replica"],
    multiprocess_mode="livemax",
)
REPLICA_UP = Gauge(
    "quanjing_replica_up",
    "1 while a read replica answers its polls in recovery, 0 while reads skip it as down.",
    ["replica"],
    multiprocess_mode="livemin",
)
REPLICA_ROUTING = Counter(
    "quanjing_replica_routing",
    "Connections of the readers, by where they went: a replica, or the primary and why.",
    ["decision"],
)
REDIS_FAILURES = Counter(
    "quanjing_redis_failures",
    "Redis calls on the request path that failed (timeouts, refused) or were failed fast.",
    ["kind"],
)
DEPENDENCY_UP = Gauge(
    "quanjing_dependency_up",
    "1 while the process can reach the dependency, 0 while it records it as down.",
    ["dependency"],
    multiprocess_mode="livemin",
)
OUTBOX_BACKLOG = Gauge(
    "quanjing_outbox_backlog",
    "Outbox events not yet published.",
    multiprocess_mode="max",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "quanjing_outbox_oldest_seconds",
    "Age of the oldest outbox event not yet published.",
    multiprocess_mode="max",
)
STREAM_LAG = Gauge(
    "quanjing_stream_lag",
    "Events in qj:events not yet delivered to the consumer group.",
    ["group"],
    multiprocess_mode="max",
)
STREAM_PENDING = Gauge(
    "quanjing_stream_pending",
    "Events delivered to the consumer group and not yet acknowledged.",
    ["group"],
    multiprocess_mode="max",
)
DEAD_LETTERS = Counter(
    "quanjing_dead_letters", "Worker events moved to the dead letters (qj:events:dead)."
)
WEBHOOK_DELIVERIES = Counter(
    "quanjing_webhook_deliveries",
    "Webhook delivery attempts, by the state they left the delivery in.",
    ["state"],
)
AUDIT_QUEUE = Gauge(
    "quanjing_audit_queue",
    "Read-audit records waiting for the group writer.",
    multiprocess_mode="livesum",
)
AUDIT_GROUP = Histogram(
    "quanjing_audit_group_size",
    "Read-audit records written per group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
WORKER_BATCHES = Counter(
    "quanjing_worker_batches",
    "Batches of stream events the worker handled, by outcome.",
    ["outcome"],
)
WORKER_BATCH_EVENTS = Histogram(
    "quanjing_worker_batch_events",
    "Events per batch the worker handled.",
    buckets=(1, 5, 10, 50, 100, 250, 500),
)
IMPORT_RUNS = Counter(
    "quanjing_import_runs", "Bulk import runs ended, by kind and outcome.", ["kind", "outcome"]
)
IMPORT_RECORDS = Counter(
    "quanjing_import_records",
    "Records of bulk import runs, by kind and outcome (inserted, updated, unchanged, refused…).",
    ["kind", "outcome"],
)


def route_of(path: str) -> str:
    """A route label: the service's few routes, everything else one label (a scanner's paths
    must not become series)."""
    return path if path in ROUTES else "other"


def serve_metrics(host: str, port: int) -> None:
    """The exposition on its own port, in a thread of this process: every worker's samples in
    multiprocess mode, this process's otherwise."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host, registry=REGISTRY)
