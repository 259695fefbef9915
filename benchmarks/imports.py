"""`make bench-import`: `quanjing import customers` against plain COPY of the same rows.

    python -m benchmarks.imports [--customers 1000000] [--quick]

One run, one machine, a fresh database per measurement (embedded PostgreSQL under
.quanjing-bench-import):
- **baseline**: the physical limit — read the same JSON Lines, seal the document numbers (a
  loader must: they are stored encrypted), COPY the same rows into the same four tables
  (customers, identity_documents, contact_points, customer_source_keys). No validation, no
  history, no completeness, no checkpoint;
- **initial**: the import of the whole file into an empty database;
- **again**: the same file once more (every record unchanged);
- **delta**: a tenth of the base size (the issue's 100,000 at 1,000,000), half changed records
  of known keys, half new customers;
- **holdings**: two per customer (2,000,000 at 1,000,000), against COPY of the same rows (the
  customer ids looked up once, as any loader would);
- **push**: `upsertCustomers` over HTTP (`quanjing serve`, one worker), 1,000 records a request,
  one request at a time, for a twentieth of the base size, against the same records by file.

Goals (issue 19, at 1,000,000 customers): initial ≥ 3,500 customers/s, again no slower than
initial, a 100,000-record delta in ≤ 1 minute, 2,000,000 holdings in ≤ 5 minutes. Results: benchmarks/results/import.json and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn, create_engine
from api.http.tokens import mint_development_token
from api.ops.importer import ImportOptions, import_file
from api.settings import Settings
from benchmarks.report import IMPORT_RESULTS, save
from benchmarks.run import free_port, machine, on_embedded, server
from domain.access.principal import Role
from domain.customers.contacts import normalize_phone
from tests.import_files import customers as generated

_BRANCH = (
    "INSERT INTO branches (code, name, city, kind) VALUES ('NJ01', '南京分行', '南京', 'branch')"
)
_PRODUCT = (
    "INSERT INTO products (code, name, category, audience) "
    "VALUES ('DEP-CUR', '活期储蓄', 'deposit', 'personal')"
)


async def _fresh(admin_url: str, name: str) -> str:
    admin = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = admin_url.replace("/quanjing?", f"/{name}?", 1)
    await asyncio.to_thread(migrate, url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(_BRANCH)
        await conn.execute(_PRODUCT)
    finally:
        await conn.close()
    return url


def holdings_file(folder: Path, count: int) -> Path:
    path = folder / "holdings.jsonl"
    with path.open("wb") as out:
        for n in range(count):
            for k in range(2):
                record = {
                    "sourceRef": f"ACC-{n:08d}-{k}",
                    "customerSourceKey": f"B{n:07d}",
                    "productCode": "DEP-CUR",
                    "accountNumber": f"62{n:012d}{k}",
                    "balance": f"{(n * 37 + k) % 100_000}.{n % 100:02d}",
                    "openedOn": "2020-01-02",
                }
                out.write(orjson.dumps(record) + b"\n")
    return path


def write_files(folder: Path, count: int) -> tuple[Path, Path]:
    base = folder / "customers.jsonl"
    delta = folder / "delta.jsonl"
    with base.open("wb") as out:
        for record in generated(count, seed=1, prefix="B", region="320102"):
            out.write(orjson.dumps(record) + b"\n")
    changed = count // 20
    with delta.open("wb") as out:
        for n, record in enumerate(generated(changed, seed=1, prefix="B", region="320102")):
            out.write(orjson.dumps(record | {"occupation": f"新职业{n % 7}"}) + b"\n")
        for record in generated(changed, seed=2, prefix="N", region="330106"):
            out.write(orjson.dumps(record) + b"\n")
    return base, delta


async def baseline(url: str, crypto: DocumentCrypto, path: Path) -> float:
    """Read, seal, COPY: what any loader of these rows must do, and nothing more."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        next_id = 1
        batch: list[dict[str, Any]] = []

        async def flush(first_id: int) -> None:
            customers, documents, contacts, keys = [], [], [], []
            for offset, r in enumerate(batch):
                cid = first_id + offset
                kind = r["kind"].lower()
                customers.append(
                    (cid, f"P{cid:09d}", kind, r["displayName"], r.get("registeredName"))
                )
                doc_type = "resident_id" if "residentId" in r else "uscc"
                number = r.get("residentId") or r["uscc"]
                sealed = crypto.seal(doc_type, number, cid)
                documents.append((cid, doc_type, sealed.ciphertext, sealed.key_id, sealed.lookup))
                contacts.append((cid, "phone", normalize_phone(r["phone"]), True))
                keys.append((cid, "core", r["sourceKey"], "bench"))
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "customers",
                    records=customers,
                    columns=("id", "code", "kind", "display_name", "registered_name"),
                )
                await conn.copy_records_to_table(
                    "identity_documents",
                    records=documents,
                    columns=(
                        "customer_id",
                        "type",
                        "number_ciphertext",
                        "number_key_id",
                        "number_hmac",
                    ),
                )
                await conn.copy_records_to_table(
                    "contact_points",
                    records=contacts,
                    columns=("customer_id", "kind", "value", "is_preferred"),
                )
                await conn.copy_records_to_table(
                    "customer_source_keys",
                    records=keys,
                    columns=("customer_id", "system", "key", "created_by"),
                )

        with path.open("rb") as stream:
            for line in stream:
                batch.append(orjson.loads(line))
                if len(batch) == 2_000:
                    await flush(next_id)
                    next_id += len(batch)
                    batch = []
        if batch:
            await flush(next_id)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def holdings_baseline(url: str, path: Path) -> float:
    """COPY the same holdings, their customers' ids looked up once by key."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        ids = {
            r["key"]: r["customer_id"]
            for r in await conn.fetch("SELECT key, customer_id FROM customer_source_keys")
        }
        product = await conn.fetchval("SELECT id FROM products WHERE code = 'DEP-CUR'")
        batch: list[tuple[Any, ...]] = []

        async def flush() -> None:
            await conn.copy_records_to_table(
                "holdings",
                records=batch,
                columns=(
                    "customer_id",
                    "product_id",
                    "account_number",
                    "currency",
                    "balance",
                    "status",
                    "opened_on",
                    "source_ref",
                ),
            )

        with path.open("rb") as stream:
            for line in stream:
                r = orjson.loads(line)
                batch.append(
                    (
                        ids[r["customerSourceKey"]],
                        product,
                        r["accountNumber"],
                        "CNY",
                        Decimal(r["balance"]),
                        "active",
                        date.fromisoformat(r["openedOn"]),
                        r["sourceRef"],
                    )
                )
                if len(batch) == 2_000:
                    await flush()
                    batch = []
        if batch:
            await flush()
    finally:
        await conn.close()
    return time.perf_counter() - started


async def quanjing(
    settings: Settings, url: str, path: Path, kind: str = "customers"
) -> tuple[float, dict[str, Any]]:
    engine = create_engine(url, settings)
    try:
        started = time.perf_counter()
        result = await import_file(
            settings, engine, ImportOptions(kind, path, system="core"), io.StringIO()
        )
        return time.perf_counter() - started, result.tally.as_dict()
    finally:
        await engine.dispose()


async def measure(
    settings: Settings, admin_url: str, folder: Path, count: int
) -> list[dict[str, Any]]:
    crypto = DocumentCrypto.from_settings(settings)
    base, delta = write_files(folder, count)
    runs: list[dict[str, Any]] = []

    def add(name: str, records: int, seconds: float, counts: dict[str, Any] | None = None) -> None:
        runs.append(
            {
                "run": name,
                "records": records,
                "seconds": round(seconds, 2),
                "per_second": round(records / seconds),
                "counts": counts,
            }
        )
        print(
            f"{name}: {records:,} records in {seconds:.1f} s ({records / seconds:,.0f}/s)",
            flush=True,
        )

    add("baseline", count, await baseline(await _fresh(admin_url, "bench_copy"), crypto, base))
    url = await _fresh(admin_url, "bench_import")
    seconds, counts = await quanjing(settings, url, base)
    add("initial", count, seconds, counts)
    seconds, counts = await quanjing(settings, url, base)
    add("again", count, seconds, counts)
    delta_records = 2 * (count // 20)
    seconds, counts = await quanjing(settings, url, delta)
    add("delta", delta_records, seconds, counts)

    holdings = holdings_file(folder, count)
    copied = await _fresh(admin_url, "bench_copy")
    await baseline(copied, crypto, base)
    add("holdings_baseline", 2 * count, await holdings_baseline(copied, holdings))
    seconds, counts = await quanjing(settings, url, holdings, "holdings")
    add("holdings", 2 * count, seconds, counts)

    pushed = count // 20
    push_file = folder / "push.jsonl"
    with push_file.open("wb") as out:
        for record in generated(pushed, seed=3, prefix="P", region="330106"):
            out.write(orjson.dumps(record) + b"\n")
    by_file = await _fresh(admin_url, "bench_push_file")
    seconds, counts = await quanjing(settings, by_file, push_file)
    add("push_baseline", pushed, seconds, counts)
    seconds, counts = await asyncio.to_thread(
        push, settings, await _fresh(admin_url, "bench_push"), push_file
    )
    add("push", pushed, seconds, counts)
    return runs


PUSH = """mutation ($input: [CustomerRecordInput!]!) { upsertCustomers(input: $input) {
  ... on BatchImportPayload { inserted refused } ... on Error { code message } } }"""


def push(settings: Settings, url: str, path: Path) -> tuple[float, dict[str, Any]]:
    """The records 1,000 a request to `quanjing serve`, one request at a time."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "QUANJING_HOME": str(settings.home),
        "QUANJING_LOG_LEVEL": "WARNING",
        "QUANJING_RATE_CAPACITY": str(10**9),
        "QUANJING_RATE_REFILL_PER_SECOND": str(10**9),
    }
    token = mint_development_token(
        settings, role=Role.INTEGRATION, subject="bench-push", client_id="core"
    )
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    inserted = refused = 0
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    with server(command, env, port), httpx.Client(timeout=120) as client:
        started = time.perf_counter()
        for first in range(0, len(records), 1_000):
            response = client.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": PUSH, "variables": {"input": records[first : first + 1_000]}},
                headers={"Authorization": f"Bearer {token}"},
            )
            payload = response.json()["data"]["upsertCustomers"]
            inserted += payload["inserted"]
            refused += payload["refused"]
        seconds = time.perf_counter() - started
    return seconds, {"inserted": inserted, "refused": refused}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 customers")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 20_000
    runs = on_embedded(
        ".quanjing-bench-import",
        lambda settings, url, folder: measure(settings, url, folder, args.customers),
    )
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "customers": args.customers,
        "batch_size": 2_000,
        "runs": runs,
    }
    save(result, IMPORT_RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
