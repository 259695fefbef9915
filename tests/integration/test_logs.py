"""Logs (issue 21): with QUANJING_LOG_FORMAT=json every line `quanjing serve` writes is one
JSON object, uvicorn's included; each request gets one access line naming who asked for what
and how it went, never the query's variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.http.tokens import mint_development_token
from api.ops.embedded import Endpoints
from api.settings import Settings
from domain.access.principal import Role
from tests.websocket import free_port

SEARCH = """query FindByName($name: String!) { customers(first: 1, search: $name) {
  edges { cursor } } }"""


def test_every_line_is_json_and_each_request_has_one_access_line(
    endpoints: Endpoints, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "QUANJING_HOME": str(settings.home),
        "DATABASE_URL": endpoints.database_url,
        "REDIS_URL": endpoints.redis_url,
        "QUANJING_LOG_FORMAT": "json",
    }
    token = mint_development_token(settings, role=Role.AGENT, subject="agent-logged")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "quanjing serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "quanjing serve did not start"
                time.sleep(0.2)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": SEARCH, "variables": {"name": "SECRET-VARIABLE-VALUE"}},
            headers={"authorization": f"Bearer {token}", "x-request-id": "logs-test-0001"},
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"].startswith("uvicorn") for r in records), records
    [access] = [r for r in records if r["logger"] == "quanjing.access" and r["path"] == "/graphql"]
    assert access["method"] == "POST"
    assert access["operation"] == "FindByName"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert access["role"] == "agent"
    assert access["subject"] == "agent-logged"
    assert access["correlation_id"] == "logs-test-0001"
    assert "SECRET-VARIABLE-VALUE" not in stderr.decode()
