"""`make bench`: build the dataset, start the real servers, drive them side by side, report.

    python -m benchmarks [--customers 100000] [--duration 10] [--concurrency 1,8,32]
                         [--workers 1,2] [--ops profile,self_view,search,record,register,update] [--quick]

Results go to benchmarks/results/latest.json and docs/benchmarks.md (regenerated). Ratios are
measured in the same run on the same machine; absolute numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import orjson
import psutil

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.http.tokens import mint_development_token
from api.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from api.ops.seed import resident_id
from api.settings import Settings
from benchmarks.dataset import enable_statement_stats, ensure, preload_statement_stats
from benchmarks.load import drive, percentile
from benchmarks.report import write_report
from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
HOT_SET = 200  # customers the cached-profile run reads again and again
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"

PROFILE = """query Profile($id: ID!) { customer(id: $id) { ... on Customer {
  id code displayName kind
  contactPoints { kind value isPreferred }
  documents { type number }
  relationshipManager { name grade }
  relationship { state since }
  holdings { productCount categoriesHeld
    totals { currency deposits loans assetsUnderManagement }
    items { accountNumber balance status product { name category } } }
  interactions(first: 20) { edges { node { id occurredAt channel kind summary cost } } }
  openTasks { id kind dueAt } } } }"""
SELF_VIEW = """{ me { ... on Customer { displayName
  contactPoints { kind value isPreferred }
  holdings { totals { currency deposits loans assetsUnderManagement }
    items { accountNumber balance status product { name category } } }
  interactions(first: 10) { edges { node { occurredAt channel kind summary } } } } } }"""
SEARCH = """query Find($s: String!) { customers(search: $s, first: 10) {
  edges { node { id code displayName } } } }"""
RECORD = """mutation Record($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId replayed } } }"""
REGISTER = """mutation Register($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on RegisterCustomerPayload { customerId replayed } } }"""
UPDATE = """mutation Update($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename ... on UpdateCustomerPayload { version changedFields } } }"""


_PEOPLE = random.SystemRandom()
_BENCH_REGIONS = ("120101", "120102", "120103", "120104")  # 天津: valid for every birth year


def new_person(rng: random.Random) -> tuple[str, str]:
    """A resident ID nobody in the bench bank holds yet and a mobile number: a Tianjin district
    the seeder never uses (drawing in its districts, Haidian 110108 before, about 1 in 500
    registrations met one of its 100,000 customers: the full run of 2026-12-05 counted those
    DUPLICATE_DOCUMENT refusals as errors), born 1940–2005.

    Drawn from the system's randomness, not the worker's seeded `rng`: the seeds repeat for
    every run (the warm-up, the baseline, quanjing, the next bench), and the same people
    twice would measure DUPLICATE_DOCUMENT refusals instead of registrations."""
    del rng
    birth = date(1940, 1, 1) + timedelta(days=_PEOPLE.randrange(24_000))
    return (
        resident_id(_PEOPLE.choice(_BENCH_REGIONS), birth, _PEOPLE.randrange(1000)),
        f"137{_PEOPLE.randrange(100_000_000):08d}",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[psutil.Process]:
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                if httpx.post(f"http://127.0.0.1:{port}/", timeout=0.5).status_code:
                    break
            except httpx.HTTPError:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[:4]} exited with {process.returncode}") from None
                time.sleep(0.1)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _cpu_of(name: str, *, reaped: bool = False) -> float:
    """CPU seconds of every process on the machine whose name holds `name` (run the benchmark
    alone); `reaped` adds the CPU of children it has reaped."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] and name in process.info["name"]:
                times = process.cpu_times()
                total += times.user + times.system
                if reaped:
                    total += times.children_user + times.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def redis_cpu() -> float:
    """CPU seconds of the embedded redis-server."""
    return _cpu_of("redis-server")


def postgres_cpu() -> float:
    """CPU seconds of every postgres process: both servers read the same PostgreSQL, so a
    cell's share is what its requests made it do. Backends that have exited count through the
    postmaster's reaped-children times (a pool that drops connections would otherwise make the
    difference negative)."""
    return _cpu_of("postgres", reaped=True)


async def samples(url: str, crypto: DocumentCrypto, count: int) -> dict[str, list[Any]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        ids = [
            r[0]
            for r in await conn.fetch("SELECT id FROM customers ORDER BY random() LIMIT $1", count)
        ]
        phones = [
            r[0]
            for r in await conn.fetch(
                "SELECT value FROM contact_points WHERE kind = 'phone' ORDER BY random() LIMIT $1",
                count,
            )
        ]
        docs = [
            crypto.open(r[0], r[1], r[2], r[3])
            for r in await conn.fetch(
                "SELECT type, number_key_id, number_ciphertext, customer_id FROM identity_documents "
                "ORDER BY random() LIMIT $1",
                count,
            )
        ]
        # Every customer once, shuffled: the uncached fast path never asks for one twice.
        everyone = [r[0] for r in await conn.fetch("SELECT id FROM customers ORDER BY random()")]
    finally:
        await conn.close()
    return {"ids": ids, "phones": phones, "documents": docs, "everyone": everyone}


async def statements(url: str, reset: bool) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if reset:
            await conn.execute("SELECT pg_stat_statements_reset()")
            return 0
        value = await conn.fetchval(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT ILIKE "
            "'%pg_stat_statements%' AND query NOT ILIKE '%FROM outbox%' "
            "AND query NOT ILIKE '%UPDATE outbox%' AND query NOT ILIKE '%DELETE FROM%'"
        )
        return int(value)
    finally:
        await conn.close()


def on_embedded(
    folder_name: str, measure: Callable[[Settings, str, Path], Coroutine[Any, Any, T]]
) -> T:
    """Run `measure(settings, url, files folder)` on a fresh embedded PostgreSQL under
    QUANJING_BENCH_HOME (or ROOT/folder_name), stopped whatever happens."""
    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / folder_name).resolve()
    settings = replace(Settings.from_env({}), home=home, log_level="WARNING", db_pool_size=2)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    folder = home / "files"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(measure(settings, url, folder))
    finally:
        postgres.stop()


def variant(name: str, url: str, stack: contextlib.ExitStack) -> dict[str, str]:
    """What a `--variants` server is started with: PgBouncer in transaction mode in front of
    the bench's PostgreSQL, or a streaming replica of it — the suite's own setups
    (tests/pgbouncer.py, tests/replication.py)."""
    from tests.pgbouncer import PgBouncer
    from tests.replication import StreamingReplica

    if name == "pgbouncer":
        pooler = PgBouncer(url)
        pooler.start()
        stack.callback(pooler.stop)
        return {"DATABASE_URL": pooler.url, "QUANJING_DB_POOLER": "pgbouncer"}
    replica = StreamingReplica(url, Path(tempfile.mkdtemp(prefix="qj-bench-replica-")))
    replica.create()
    stack.callback(replica.discard)
    return {"DATABASE_REPLICA_URLS": replica.url}


def serve_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def span_sink() -> int:
    """A local OTLP endpoint that takes every export and keeps nothing (the port): the traced
    server pays for making, batching, encoding and sending its spans, as it would to a real
    collector on the same host."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return int(httpd.server_address[1])


def machine() -> dict[str, Any]:
    model = "unknown"
    with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions-per-customer", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--ops",
        default="profile,profile_fast,profile_cached,self_view,self_view_registered,search,record,"
        "register,update",
    )
    parser.add_argument(
        "--traced-ops",
        default="profile_fast,profile_cached,record",
        help="ops also run against a quanjing with tracing on (OTLP over HTTP to a local sink "
        "in this process), to measure what traces cost; empty for none",
    )
    parser.add_argument(
        "--variants",
        default="",
        help="pgbouncer,replica: every op also against a quanjing behind PgBouncer in "
        "transaction mode, and one reading from a streaming replica of the bench's PostgreSQL "
        "(docs/scaling.md), to measure what each costs; empty for none",
    )
    parser.add_argument(
        "--save-as",
        metavar="NAME",
        help="write benchmarks/results/NAME.json instead of latest.json (e.g. search_1m for the "
        "search goal at 1,000,000 customers, which docs/benchmarks.md reports on its own)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 customers, 3 s runs, concurrency 1 and 8, one worker",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.duration, args.concurrency, args.workers = 2000, 3.0, "1,8", "1"
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    ops = args.ops.split(",")
    traced_ops = {op for op in args.traced_ops.split(",") if op}
    variants = [v for v in args.variants.split(",") if v]
    if set(variants) - {"pgbouncer", "replica"}:
        parser.error("--variants takes pgbouncer and replica")
    sink = span_sink() if traced_ops else 0

    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / ".quanjing-bench").resolve()
    settings = replace(Settings.from_env({}), home=home)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    if not asyncio.run(enable_statement_stats(url)):
        preload_statement_stats(postgres)
        postgres.stop()
        url = postgres.start()
        asyncio.run(enable_statement_stats(url))
    scale = contextlib.ExitStack()  # the --variants' PgBouncer and replica
    redis = EmbeddedRedis(home)
    redis_url = redis.start()
    try:
        dataset = ensure(url, settings, args.customers, args.interactions_per_customer)
        print(f"dataset: {dataset}", flush=True)
        crypto = DocumentCrypto.from_settings(settings)
        sample = asyncio.run(samples(url, crypto, 2000))
        agent = mint_development_token(settings, role=Role.AGENT, subject="bench-agent")
        customer_tokens = [
            mint_development_token(settings, role=Role.CUSTOMER, subject=f"c{c}", cid=c)
            for c in sample["ids"][:500]
        ]
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "QUANJING_HOME": str(home),
            "QUANJING_LOG_LEVEL": "WARNING",
            "QUANJING_RATE_CAPACITY": str(10**9),
            "QUANJING_RATE_REFILL_PER_SECOND": str(10**9),
        }
        auth = {"Authorization": f"Bearer {agent}"}

        profile_sha = next(
            op.sha256 for op in registry().values() if op.name == "call_center_profile"
        )
        self_view_sha = next(op.sha256 for op in registry().values() if op.name == "self_view")
        unique = itertools.cycle(sample["everyone"])
        hot = sample["ids"][:HOT_SET]

        def persisted(customer_id: int) -> bytes:
            return orjson.dumps(
                {"id": profile_sha, "variables": {"id": encode_id("Customer", customer_id)}}
            )

        factories: dict[str, Any] = {
            # The registered operation, a different customer every time: the fast path with
            # every lookup a cache miss.
            "profile_fast": lambda rng: ("/graphql", persisted(next(unique)), auth),
            # The registered operation over a hot set the warm-up has cached.
            "profile_cached": lambda rng: ("/graphql", persisted(rng.choice(hot)), auth),
            "profile": lambda rng: (
                "/graphql",
                orjson.dumps(
                    {
                        "query": PROFILE,
                        "variables": {"id": encode_id("Customer", rng.choice(sample["ids"]))},
                    }
                ),
                auth,
            ),
            "self_view": lambda rng: (
                "/graphql",
                orjson.dumps({"query": SELF_VIEW}),
                {"Authorization": f"Bearer {rng.choice(customer_tokens)}"},
            ),
            # The registered SelfView by id, as the mobile app sends it, over 500 signed-in
            # customers: the walked fast path on a first visit, the response cache after.
            "self_view_registered": lambda rng: (
                "/graphql",
                orjson.dumps({"id": self_view_sha}),
                {"Authorization": f"Bearer {rng.choice(customer_tokens)}"},
            ),
            "search": lambda rng: (
                "/graphql",
                orjson.dumps(
                    {
                        "query": SEARCH,
                        "variables": {
                            "s": rng.choice(
                                sample["phones"] if rng.random() < 0.5 else sample["documents"]
                            )
                        },
                    }
                ),
                auth,
            ),
            "record": lambda rng: (
                "/graphql",
                orjson.dumps(
                    {
                        "query": RECORD,
                        "variables": {
                            "input": {
                                "customerId": encode_id("Customer", rng.choice(sample["ids"])),
                                "channel": "CALL_CENTER",
                                "kind": "INQUIRY",
                                "occurredAt": datetime.now(UTC).isoformat(),
                                "summary": "benchmark",
                                "idempotencyKey": uuid.uuid4().hex,
                            }
                        },
                    }
                ),
                auth,
            ),
        }

        def register(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            number, phone = new_person(rng)
            draft = {
                "kind": "PERSONAL",
                "displayName": "基准客户",
                "documents": [{"type": "RESIDENT_ID", "number": number}],
                "contactPoints": [{"kind": "PHONE", "value": phone, "preferred": True}],
                "personal": {},
            }
            body = {"query": REGISTER, "variables": {"input": draft}}
            return "/graphql", orjson.dumps(body), auth

        factories["register"] = register

        # A data steward renames customers (a new name each time: every request is a change).
        steward = mint_development_token(settings, role=Role.STEWARD, subject="bench-steward")
        steward_auth = {"Authorization": f"Bearer {steward}"}

        def renamed(rng: random.Random) -> tuple[int, str]:
            return rng.choice(sample["ids"]), f"基准更名{rng.randrange(10**9)}"

        def update(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            customer_id, name = renamed(rng)
            draft = {"customerId": encode_id("Customer", customer_id), "displayName": name}
            body = {"query": UPDATE, "variables": {"input": draft}}
            return "/graphql", orjson.dumps(body), steward_auth

        factories["update"] = update

        def baseline_update(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            customer_id, name = renamed(rng)
            body = {"customerId": customer_id, "displayName": name}
            return "/update", orjson.dumps(body), {}

        def baseline_register(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            number, phone = new_person(rng)
            body = {"displayName": "基准客户", "residentId": number, "phone": phone}
            return "/register", orjson.dumps(body), {}

        def baseline_factory(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            return "/profile", orjson.dumps({"id": rng.choice(sample["ids"])}), {}

        def baseline_record(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
            # The same input as `record` sends, as the baseline's plain JSON.
            body = {
                "customerId": rng.choice(sample["ids"]),
                "channel": "call_center",
                "kind": "inquiry",
                "occurredAt": datetime.now(UTC).isoformat(),
                "summary": "benchmark",
                "idempotencyKey": uuid.uuid4().hex,
            }
            return "/record", orjson.dumps(body), {}

        def ok(status: int, payload: bytes) -> bool:
            # A typed refusal (…Error, the baseline's codes) is an error too: a refused write
            # does a fraction of the work and would flatter whoever got refused.
            return status == 200 and not any(
                marker in payload for marker in (b'"errors"', b'Error"', b'"DUPLICATE_DOCUMENT"')
            )

        variant_env = {f"quanjing+{v}": variant(v, url, scale) for v in variants}
        runs: list[dict[str, Any]] = []
        for workers in worker_counts:
            q_port, b_port, t_port = free_port(), free_port(), free_port()
            # Metrics on, as production runs (multiprocess mode writes every sample to a
            # shared file): the ratios include them.
            q_env = {**env, "QUANJING_METRICS_PORT": str(free_port())}
            traced_env = {
                **env,
                "QUANJING_METRICS_PORT": str(free_port()),
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{sink}/v1/traces",
                "OTEL_SERVICE_NAME": "quanjing-bench",
            }
            with (
                contextlib.ExitStack() as traced_servers,
                server(serve_command(q_port, workers), q_env, q_port) as quanjing,
                server(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "benchmarks.baseline:app",
                        "--port",
                        str(b_port),
                        "--workers",
                        str(workers),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    env,
                    b_port,
                ) as baseline,
            ):
                traced = (
                    traced_servers.enter_context(
                        server(serve_command(t_port, workers), traced_env, t_port)
                    )
                    if traced_ops
                    else None
                )
                varied = []
                for target, changes in variant_env.items():
                    v_port = free_port()
                    v_env = {**env, **changes, "QUANJING_METRICS_PORT": str(free_port())}
                    varied.append(
                        (
                            target,
                            v_port,
                            traced_servers.enter_context(
                                server(serve_command(v_port, workers), v_env, v_port)
                            ),
                        )
                    )
                for concurrency in concurrencies:
                    plan = []
                    if {"profile", "profile_fast", "profile_cached"} & set(ops):
                        plan.append(("profile", "baseline", b_port, baseline, baseline_factory))
                    for op in ops:
                        if op == "record":  # each side by side with its own baseline
                            plan.append(("record", "baseline", b_port, baseline, baseline_record))
                        if op == "register":
                            plan.append(
                                ("register", "baseline", b_port, baseline, baseline_register)
                            )
                        if op == "update":
                            plan.append(("update", "baseline", b_port, baseline, baseline_update))
                        plan.append((op, "quanjing", q_port, quanjing, factories[op]))
                        if op in traced_ops and traced is not None:
                            plan.append((op, "quanjing+traces", t_port, traced, factories[op]))
                        for target, v_port, v_process in varied:
                            plan.append((op, target, v_port, v_process, factories[op]))
                    for op, target, port, process, factory in plan:
                        asyncio.run(drive("127.0.0.1", port, factory, concurrency, 1.0, ok))  # warm
                        asyncio.run(statements(url, reset=True))
                        cpu_before, pg_before = cpu_seconds(process), postgres_cpu()
                        driver_before, redis_before = time.process_time(), redis_cpu()
                        pooler_before = _cpu_of("pgbouncer")
                        outcome, wall = asyncio.run(
                            drive("127.0.0.1", port, factory, concurrency, args.duration, ok)
                        )
                        cpu = cpu_seconds(process) - cpu_before
                        pg_cpu = postgres_cpu() - pg_before
                        driver_cpu = time.process_time() - driver_before
                        rd_cpu = redis_cpu() - redis_before
                        pooler_cpu = _cpu_of("pgbouncer") - pooler_before
                        sent = asyncio.run(statements(url, reset=False))
                        run = {
                            "op": op,
                            "target": target,
                            "workers": workers,
                            "concurrency": concurrency,
                            "requests": outcome.requests,
                            "errors": outcome.errors,
                            "seconds": round(wall, 2),
                            "throughput": round(outcome.requests / wall, 1),
                            "p50_ms": round(percentile(outcome.latencies, 50) * 1000, 2),
                            "p95_ms": round(percentile(outcome.latencies, 95) * 1000, 2),
                            "p99_ms": round(percentile(outcome.latencies, 99) * 1000, 2),
                            "statements_per_request": round(sent / max(1, outcome.requests), 2),
                            "server_cpu_ms_per_request": round(
                                cpu * 1000 / max(1, outcome.requests), 2
                            ),
                            # Where the rest of the machine goes: a goal beyond one core's
                            # worth of server CPU is bounded by this too (2 shared cores).
                            "postgres_cpu_ms_per_request": round(
                                pg_cpu * 1000 / max(1, outcome.requests), 2
                            ),
                            # The rest of the two cores: the load driver (this process)
                            # and Redis, so a cell's whole machine cost is in the table.
                            "driver_cpu_ms_per_request": round(
                                driver_cpu * 1000 / max(1, outcome.requests), 2
                            ),
                            "redis_cpu_ms_per_request": round(
                                rd_cpu * 1000 / max(1, outcome.requests), 2
                            ),
                            "pooler_cpu_ms_per_request": round(
                                pooler_cpu * 1000 / max(1, outcome.requests), 2
                            ),
                        }
                        runs.append(run)
                        print(json.dumps(run), flush=True)
        result = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "dataset": {
                "customers": dataset.customers,
                "holdings": dataset.holdings,
                "interactions": dataset.interactions,
                "load_seconds": None
                if dataset.load_seconds is None
                else round(dataset.load_seconds, 1),
            },
            "duration_seconds": args.duration,
            "runs": runs,
        }
        saved = RESULTS if args.save_as is None else RESULTS.parent / f"{args.save_as}.json"
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        latest = json.loads(RESULTS.read_text(encoding="utf-8"))
        write_report(latest, ROOT / "docs" / "benchmarks.md")
        print(f"wrote {saved.relative_to(ROOT)} and docs/benchmarks.md")
    finally:
        scale.close()
        redis.stop()
        postgres.stop()
    return 0
