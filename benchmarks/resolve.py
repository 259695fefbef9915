"""`make bench-resolve`: identity resolution's quality and speed on planted duplicates.

    python -m benchmarks.resolve [--customers 100000] [--quick]

One run, one machine, a fresh database (embedded PostgreSQL under .quanjing-bench-resolve):
1. benchmarks/identity_data.py writes a customer file with about 5 % planted duplicates and
   families that share a phone and a home (not duplicates), from its own seed and tables;
2. `quanjing import customers` loads it (and matches what it wrote at the run's end);
3. the queue is emptied and `quanjing resolve` matches the whole base, keeping every pair
   scored at 0.05 or more, timed;
4. precision and recall at each threshold against the generator's truth, and recall per kind
   of variation at the review threshold;
5. registerCustomer's unit of work with and without incremental matching, interleaved, p50.

Goals (issue 20): at the review threshold precision ≥ 0.98 and recall ≥ 0.90 (100,000
customers); `quanjing resolve` over 1,000,000 customers ≤ 10 minutes; incremental matching
adds ≤ 5 ms to a registration (p50). Results: benchmarks/results/resolve.json and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import UTC, date, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn, create_engine
from api.db.identity import resolve
from api.db.registration_uow import SqlRegistrationUnitOfWork
from api.ops.importer import ImportOptions, import_file
from api.ops.seed import resident_id
from api.settings import Settings
from benchmarks.identity_data import generate, lines
from benchmarks.imports import _fresh
from benchmarks.report import RESOLVE_RESULTS, save
from benchmarks.run import machine, on_embedded
from domain.customers.history import Author
from domain.customers.model import ContactKind, CustomerKind, DocumentType
from domain.customers.registration import (
    NewContactPoint,
    NewCustomer,
    NewDocument,
    NewPersonal,
    register_customer,
)
from domain.identity.matching import MODEL, REVIEW_THRESHOLD

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
KEEP_FROM = 0.05


async def _pairs(url: str) -> tuple[list[tuple[int, int, float]], dict[int, str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        found = await conn.fetch("SELECT left_id, right_id, probability FROM match_candidates")
        keys = await conn.fetch("SELECT customer_id, key FROM customer_source_keys")
    finally:
        await conn.close()
    return (
        [(r["left_id"], r["right_id"], r["probability"]) for r in found],
        {r["customer_id"]: r["key"] for r in keys},
    )


def _quality(
    scored: list[tuple[int, int, float]],
    key_of: dict[int, str],
    truth: dict[int, list[str]],
    kinds: dict[str, list[str]],
) -> dict[str, Any]:
    loaded = set(key_of.values())
    person = {key: p for p, keys in truth.items() for key in keys}
    true_pairs = {
        tuple(sorted(pair))
        for keys in truth.values()
        for pair in combinations([k for k in keys if k in loaded], 2)
    }
    by_keys = {
        tuple(sorted((key_of[left], key_of[right]))): p
        for left, right, p in scored
        if left in key_of and right in key_of
    }
    curve = []
    for threshold in THRESHOLDS:
        predicted = {pair for pair, p in by_keys.items() if p >= threshold}
        hits = len(predicted & true_pairs)
        curve.append(
            {
                "threshold": threshold,
                "proposed": len(predicted),
                "true": hits,
                "precision": round(hits / len(predicted), 4) if predicted else 1.0,
                "recall": round(hits / len(true_pairs), 4) if true_pairs else 1.0,
            }
        )
    # Recall per variation at the review threshold: which variations the matcher misses.
    per_kind: dict[str, list[int]] = {}
    for pair in true_pairs:
        twin = next(k for k in pair if k in kinds)
        found = by_keys.get(pair, 0.0) >= REVIEW_THRESHOLD
        for kind in kinds[twin]:
            tally = per_kind.setdefault(kind, [0, 0])
            tally[0] += int(found)
            tally[1] += 1
    # False positives at the review threshold: families (same phone and home) or strangers.
    wrong = [
        pair for pair, p in by_keys.items() if p >= REVIEW_THRESHOLD and pair not in true_pairs
    ]
    missed = [pair for pair in true_pairs if by_keys.get(pair, 0.0) < REVIEW_THRESHOLD]
    return {
        "true_pairs": len(true_pairs),
        # A duplicate missed either shares no blocking key with its twin, or scores too low.
        "missed_unblocked": sum(1 for pair in missed if pair not in by_keys),
        "missed_below_threshold": sum(1 for pair in missed if pair in by_keys),
        "missed_examples": [
            {
                "pair": list(pair),
                "variations": kinds[next(k for k in pair if k in kinds)],
                "probability": by_keys.get(pair),
            }
            for pair in sorted(missed)[:12]
        ],
        "curve": curve,
        "recall_by_variation": {
            k: {"found": f, "of": n, "recall": round(f / n, 3)}
            for k, (f, n) in sorted(per_kind.items())
        },
        "false_positives": len(wrong),
        "false_positive_examples": [list(pair) for pair in sorted(wrong)[:5]],
        "persons_in_false_positives": len({person.get(k) for pair in wrong for k in pair}),
    }


class _WithoutMatching(SqlRegistrationUnitOfWork):
    """The same registration with incremental matching switched off: the comparison's floor."""

    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto) -> None:
        super().__init__(engine, crypto)
        self.match_on_commit = False


async def _registrations(settings: Settings, url: str, count: int) -> dict[str, Any]:
    """registerCustomer's unit of work, with and without matching, interleaved."""
    engine = create_engine(url, settings)
    crypto = DocumentCrypto.from_settings(settings)
    author = Author("bench", source_system="bench")
    timings: dict[str, list[float]] = {"with": [], "without": []}
    async with engine.connect() as conn:
        # Born after every generated customer (1950 to mid-2018) and after the registrations
        # of an earlier run on a reused database: no ID number collides.
        first = await conn.scalar(
            text("SELECT coalesce(max(birth_date), DATE '2019-01-01') + 1 FROM customers")
        )
    try:
        for n in range(count * 2):
            matching = n % 2 == 0
            birth = max(first, date(2019, 1, 1)) + date.resolution * n
            draft = NewCustomer(
                kind=CustomerKind.PERSONAL,
                display_name=f"基准{n}号",
                documents=(
                    NewDocument(DocumentType.RESIDENT_ID, resident_id("450102", birth, n % 997)),
                ),
                contact_points=(
                    NewContactPoint(ContactKind.PHONE, f"+86137{n:08d}", preferred=True),
                ),
                personal=NewPersonal(birth_date=birth),
            )
            kind = SqlRegistrationUnitOfWork if matching else _WithoutMatching

            def factory(k: type[SqlRegistrationUnitOfWork] = kind) -> SqlRegistrationUnitOfWork:
                return k(engine, crypto)

            started = time.perf_counter()
            await register_customer(factory, draft, author, date(2026, 12, 5))
            timings["with" if matching else "without"].append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    p50 = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    return {
        "registrations": count,
        "p50_ms_with": round(p50["with"], 2),
        "p50_ms_without": round(p50["without"], 2),
        "added_ms": round(p50["with"] - p50["without"], 2),
    }


async def _loaded(admin_url: str) -> str | None:
    """The bench database of an earlier run of the same size, if it holds customers."""
    url = admin_url.replace("/quanjing?", "/bench_resolve?", 1)
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        return url if await conn.fetchval("SELECT count(*) FROM customers") else None
    finally:
        await conn.close()


async def measure(
    settings: Settings, admin_url: str, folder: Path, customers: int, reuse: bool = False
) -> dict[str, Any]:
    planted = generate(customers)  # deterministic: a reused database holds the same records
    url = await _loaded(admin_url) if reuse else None
    fresh = url is None
    if fresh:
        path = folder / f"customers-{customers}.jsonl"
        with path.open("wb") as out:
            for line in lines(planted):
                out.write(orjson.dumps(line) + b"\n")
        url = await _fresh(admin_url, "bench_resolve")
    assert url is not None
    engine = create_engine(url, settings)
    imported: dict[str, Any] | None = None
    try:
        if fresh:
            started = time.perf_counter()
            result = await import_file(
                settings, engine, ImportOptions("customers", path), io.StringIO()
            )
            imported = {
                "seconds": round(time.perf_counter() - started, 1),
                "tally": result.tally.as_dict(),
            }
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            incremental = await conn.fetchval(
                "SELECT count(*) FROM match_candidates WHERE probability >= $1", REVIEW_THRESHOLD
            )
            await conn.execute("TRUNCATE match_candidates CASCADE")
        finally:
            await conn.close()
        started = time.perf_counter()
        report = await resolve(engine, KEEP_FROM)
        resolve_seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    scored, key_of = await _pairs(url)
    quality = _quality(scored, key_of, planted.truth, planted.kinds)
    registrations = await _registrations(settings, url, 200)
    return {
        "records": len(planted.records),
        "planted_duplicates": sum(len(k) - 1 for k in planted.truth.values()),
        "variations": planted.variations,
        # None when an earlier run's database was reused (--reuse).
        "import": None if imported is None else {**imported, "queued_at_run_end": incremental},
        "resolve": {
            "seconds": round(resolve_seconds, 1),
            "customers": report.customers,
            "pairs": report.pairs,
            "kept_from": KEEP_FROM,
        },
        "model": MODEL.version,
        "review_threshold": REVIEW_THRESHOLD,
        "quality": quality,
        "registration": registrations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.resolve", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 customers")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="match the database an earlier run of the same size loaded (no generation "
        "of the file, no import)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 10_000
    measured = on_embedded(
        ".quanjing-bench-resolve",
        lambda settings, url, folder: measure(settings, url, folder, args.customers, args.reuse),
    )
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "customers": args.customers,
        **measured,
    }
    out = (
        RESOLVE_RESULTS
        if args.customers != 1_000_000
        else RESOLVE_RESULTS.with_name("resolve-1m.json")
    )
    save(result, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
