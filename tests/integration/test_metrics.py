"""Metrics (issue 21): the series an operator scrapes, no personal data in any label, and one
exposition for all of `quanjing serve --workers N`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from api.http.tokens import mint_development_token
from api.ops.embedded import Endpoints
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import make_customer
from tests.websocket import free_port

PROFILE = next(op.query for op in registry().values() if op.name == "call_center_profile")
SERIES = (
    "quanjing_http_requests",
    "quanjing_http_request_duration_seconds",
    "quanjing_graphql_errors",
    "quanjing_rate_limited",
    "quanjing_response_cache",
    "quanjing_db_pool_in_use",
    "quanjing_db_pool_waiting",
    "quanjing_redis_failures",
    "quanjing_dependency_up",
    "quanjing_outbox_backlog",
    "quanjing_outbox_oldest_seconds",
    "quanjing_stream_lag",
    "quanjing_stream_pending",
    "quanjing_dead_letters",
    "quanjing_webhook_deliveries",
    "quanjing_audit_queue",
    "quanjing_audit_group_size",
    "quanjing_worker_batches",
    "quanjing_worker_batch_events",
    "quanjing_import_runs",
    "quanjing_import_records",
)


async def test_the_exposition_names_every_series_and_no_label_holds_personal_data(
    app: object, engine: AsyncEngine, mint: Minter
) -> None:
    import api.metrics  # noqa: F401  (every series registered)

    name = "度量测试客户"
    made = await make_customer(engine, name=name)
    agent = mint(Role.AGENT, "metrics-agent")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://quanjing.test",
        headers={"authorization": f"Bearer {agent}"},
    ) as client:
        variables = {"id": encode_id("Customer", made.id)}
        for _ in range(2):  # a miss, then a hit
            await client.post("/graphql", json={"query": PROFILE, "variables": variables})
        await client.post(
            "/graphql",
            json={
                "query": "query ByName($q: String!) { customers(first: 5, search: $q) { "
                "edges { cursor } } }",
                "variables": {"q": name},
            },
        )
        await client.post("/graphql", json={"query": "{ nope }"})  # an error with a code
    text = generate_latest(REGISTRY).decode()
    families = {f.name for f in text_string_to_metric_families(text)}
    missing = [name for name in SERIES if name not in families]
    assert not missing, missing
    personal = {
        str(made.id),
        encode_id("Customer", made.id),
        name,
        made.resident_id,
        made.phone,
    }
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("quanjing_"):
            continue
        for sample in family.samples:
            for value in sample.labels.values():
                assert value not in personal, (family.name, sample.labels)
                assert name not in value
    assert 'operation="call_center_profile"' in text
    assert 'operation="ByName"' in text
    assert 'code="GRAPHQL_VALIDATION_FAILED"' in text
    assert 'result="hit"' in text


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "quanjing serve exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.2)


def test_several_workers_are_summed_in_one_exposition(endpoints: Endpoints, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "QUANJING_HOME": str(tmp_path),
        "DATABASE_URL": endpoints.database_url,
        "REDIS_URL": endpoints.redis_url,
        "QUANJING_METRICS_PORT": str(metrics_port),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", process)
        token = mint_development_token(
            Settings.from_env({"QUANJING_HOME": str(tmp_path)}), role=Role.AGENT, subject="m"
        )
        sent = 40
        for _ in range(sent):  # a new connection each: the kernel spreads them over workers
            with httpx.Client() as one:
                answer = one.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "query Ping { __typename }"},
                    headers={"authorization": f"Bearer {token}", "connection": "close"},
                )
                assert answer.status_code == 200
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        writers = {p.name.rsplit("_", 1)[-1] for p in (tmp_path / "metrics").rglob("counter_*")}
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    counted = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "quanjing_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("operation") == "Ping"
    )
    assert counted == sent
    assert len(writers) >= 2, writers  # both workers counted, and the sum holds them both
