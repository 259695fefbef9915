"""Extracts as a bank's systems write them, for the import tests: valid customers with real
check digits, and the bad records a real extract contains."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import migrate
from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.ops.importer import ImportOptions, import_file
from api.ops.seed import credit_code, resident_id
from api.settings import Settings
from domain.imports.run import RunResult
from tests.scratch import scratch_database

COLUMNS = (
    "sourceKey", "kind", "displayName", "registeredName", "residentId", "uscc", "phone",
    "email", "homeBranchCode", "gender", "birthDate", "occupation", "incomeBand", "industry",
)  # fmt: skip


def customers(
    count: int, seed: int, *, prefix: str = "K", region: str = "320102"
) -> Iterator[dict[str, Any]]:
    """`count` customers, one company in ten, each with a document and a phone; keys
    `{prefix}{n:07d}`, documents unique for a (seed, region)."""
    rng = random.Random(seed)
    used: set[str] = set()
    for n in range(count):
        key = f"{prefix}{n:07d}"
        phone = f"139{rng.randrange(100_000_000):08d}"
        if n % 10 == 9:
            code = credit_code(rng, region)
            while code in used:
                code = credit_code(rng, region)
            used.add(code)
            yield {
                "sourceKey": key,
                "kind": "CORPORATE",
                "displayName": f"导入企业{n}",
                "registeredName": f"导入企业{n}有限公司",
                "uscc": code,
                "phone": phone,
                "industry": "制造业",
            }
            continue
        number = ""
        while not number or number in used:
            birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
            number = resident_id(region, birth, rng.randrange(1000))
        used.add(number)
        yield {
            "sourceKey": key,
            "kind": "PERSONAL",
            "displayName": f"导入客户{n}",
            "residentId": number,
            "phone": phone,
            "gender": rng.choice(["MALE", "FEMALE"]),
            "occupation": "工程师",
            "incomeBand": "FROM_10K_TO_30K",
        }


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def csv_text(records: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({c: record.get(c, "") for c in columns})
    return out.getvalue()


async def fresh_database(endpoints: Endpoints, name: str, *setup: str) -> str:
    """A migrated scratch database `name`, with the setup statements run."""
    url = await scratch_database(endpoints, name)
    await asyncio.to_thread(migrate, url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement in setup:
            await conn.execute(statement)
    finally:
        await conn.close()
    return url


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def run_import(
    settings: Settings, engine: AsyncEngine, kind: str, path: Path, **options: Any
) -> tuple[RunResult, list[dict[str, Any]], str]:
    """Import the file as `quanjing import` does: the result, its report, its summary."""
    out = io.StringIO()
    result = await import_file(settings, engine, ImportOptions(kind, path, **options), out)
    report = path.with_name(path.name + ".report.jsonl")
    lines = (await asyncio.to_thread(report.read_bytes)).splitlines()
    return result, [orjson.loads(line) for line in lines], out.getvalue()
