"""Extracts as a bank's systems write them, for the import tests: valid customers with real
check digits, and the bad records a real extract contains."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import orjson

from api.ops.seed import credit_code, resident_id

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
