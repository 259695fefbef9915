"""`quanjing import holdings`: accounts by the source's reference, their customers by source
key — refused per record when the customer or product is unknown or an amount can't be kept,
unchanged on a re-import, updated and closed by a delta, a prospect converted by their first."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import create_engine
from api.ops.embedded import Endpoints
from api.ops.importer import ImportOptions, import_file
from api.settings import Settings
from domain.imports.run import RunResult
from tests.import_files import customers, fetch, fresh_database, jsonl, run_import

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def database(endpoints: Endpoints) -> str:
    return await fresh_database(
        endpoints,
        "import_holdings",
        "INSERT INTO products (code, name, category, audience) VALUES "
        "('DEP-CUR', '活期储蓄', 'deposit', 'personal'), "
        "('CARD', '信用卡', 'credit_card', 'personal')",
        "INSERT INTO products (code, name, category, audience, retired_at) VALUES "
        "('OLD', '旧产品', 'deposit', 'personal', now())",
    )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database, settings)
    yield created
    await created.dispose()


async def _import(
    settings: Settings, engine: AsyncEngine, kind: str, path: Path, **options: Any
) -> tuple[RunResult, list[dict[str, Any]]]:
    result, report, _ = await run_import(settings, engine, kind, path, system="core", **options)
    return result, report


_rows = fetch


def _holding(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "sourceRef": f"ACC-{n:05d}",
        "customerSourceKey": f"H{n % 10:07d}",
        "productCode": "DEP-CUR",
        "accountNumber": f"62220000{n:08d}",
        "balance": f"{n * 10}.50",
        "openedOn": "2024-01-02",
        **overrides,
    }


async def test_holdings_go_in_by_key_are_refused_per_record_and_a_re_import_changes_nothing(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    people = list(customers(10, seed=21, prefix="H", region="320104"))
    people[3] = people[3] | {"prospect": True}
    base = tmp_path / "customers.jsonl"
    base.write_bytes(jsonl(people))
    loaded, _ = await _import(settings, engine, "customers", base)
    assert loaded.tally.inserted == 10

    good = [_holding(n) for n in range(20)]
    bad = [
        _holding(100, customerSourceKey="NOBODY"),  # line 21
        _holding(101, productCode="NOPE"),
        _holding(102, balance="1.005"),
        _holding(103, creditLimit="-5", productCode="CARD"),
        _holding(104, openedOn="2999-01-01"),
        _holding(105, status="CLOSED"),  # no closing date
        _holding(106, productCode="OLD"),  # retired: opens nothing
        _holding(107, balance="lots"),
    ]
    path = tmp_path / "holdings.jsonl"
    path.write_bytes(jsonl(good + bad))

    result, report = await _import(settings, engine, "holdings", path)

    assert result.tally.inserted == 20
    assert [(r["line"], r["code"], r["field"]) for r in report] == [
        (21, "CUSTOMER_UNKNOWN", "customerSourceKey"),
        (22, "UNKNOWN_PRODUCT", "productCode"),
        (23, "INVALID_INPUT", "balance"),
        (24, "INVALID_INPUT", "creditLimit"),
        (25, "INVALID_INPUT", "openedOn"),
        (26, "INVALID_INPUT", "closedOn"),
        (27, "INVALID_INPUT", "productCode"),
        (28, "INVALID_INPUT", "balance"),
    ]
    stored = await _rows(
        database,
        "SELECT h.source_ref, k.key, h.balance::text AS balance FROM holdings h "
        "JOIN customer_source_keys k ON k.customer_id = h.customer_id ORDER BY h.source_ref",
    )
    assert [tuple(r) for r in stored] == [
        (h["sourceRef"], h["customerSourceKey"], h["balance"]) for h in good
    ]
    # The prospect's first holding made them a customer, in their history.
    prospect = await _rows(
        database,
        "SELECT c.lifecycle_status, c.converted_at IS NOT NULL AS converted, c.version, "
        "array(SELECT h.field || ':' || h.new_value FROM customer_changes h "
        "WHERE h.customer_id = c.id ORDER BY h.id) AS entries "
        "FROM customers c JOIN customer_source_keys k ON k.customer_id = c.id WHERE k.key = $1",
        people[3]["sourceKey"],
    )
    assert tuple(prospect[0]) == (
        "active",
        True,
        2,
        ["lifecycleStatus:prospect", "lifecycleStatus:active"],
    )

    again, report_again = await _import(settings, engine, "holdings", path)
    assert (again.tally.unchanged, again.tally.inserted, again.tally.updated) == (20, 0, 0)
    assert len(report_again) == len(bad)

    delta = tmp_path / "delta.jsonl"
    delta.write_bytes(
        jsonl(
            [
                _holding(0, balance="999.99"),
                _holding(1, status="CLOSED", closedOn="2025-06-30", balance="0"),
                _holding(2, customerSourceKey="H0000009"),  # another customer's reference
                _holding(3),
            ]
        )
    )
    changed, delta_report = await _import(settings, engine, "holdings", delta)
    t = changed.tally
    assert (t.updated, t.unchanged, dict(t.refused)) == (2, 1, {"INVALID_INPUT": 1})
    assert [(r["line"], r["field"]) for r in delta_report] == [(3, "customerSourceKey")]
    after = await _rows(
        database,
        "SELECT source_ref, balance::text AS balance, status, closed_on::text AS closed_on "
        "FROM holdings WHERE source_ref = ANY($1::text[]) ORDER BY source_ref",
        ["ACC-00000", "ACC-00001", "ACC-00002"],
    )
    assert [tuple(r) for r in after] == [
        ("ACC-00000", "999.99", "active", None),
        ("ACC-00001", "0.00", "closed", "2025-06-30"),
        ("ACC-00002", "20.50", "active", None),
    ]


async def test_deferred_holdings_wait_for_their_customers_and_are_written_when_they_arrive(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    people = list(customers(3, seed=22, prefix="W", region="320106"))
    early = [
        _holding(500, customerSourceKey="W0000000"),
        _holding(501, customerSourceKey="W0000001"),
        _holding(502, customerSourceKey="W0000002", balance="1.00"),
    ]
    path = tmp_path / "early.jsonl"
    path.write_bytes(jsonl(early))

    refused, report = await _import(settings, engine, "holdings", path)
    assert dict(refused.tally.refused) == {"CUSTOMER_UNKNOWN": 3}
    kept, report = await _import(settings, engine, "holdings", path, defer_missing=True)
    assert (kept.tally.pending, report) == (3, [])
    assert await _rows(database, "SELECT 1 FROM holdings WHERE source_ref LIKE 'ACC-005%'") == []

    # Two of the three customers arrive; the third's holding is meanwhile written directly.
    arriving = tmp_path / "arriving.jsonl"
    arriving.write_bytes(jsonl(people))
    result = await import_file(
        settings,
        engine,
        ImportOptions("customers", arriving, system="core"),
        out := io.StringIO(),
    )
    assert result.tally.inserted == 3
    assert result.pending_applied is not None
    assert result.pending_applied.inserted == 3
    assert "kept holdings now written: 3" in out.getvalue()
    written = await _rows(
        database,
        "SELECT h.source_ref, k.key FROM holdings h JOIN customer_source_keys k "
        "ON k.customer_id = h.customer_id WHERE h.source_ref LIKE 'ACC-005%' ORDER BY 1",
    )
    assert [tuple(r) for r in written] == [
        ("ACC-00500", "W0000000"),
        ("ACC-00501", "W0000001"),
        ("ACC-00502", "W0000002"),
    ]
    assert await _rows(database, "SELECT 1 FROM import_pending") == []

    # A kept record is forgotten when its reference is written directly: it would be older.
    late = tmp_path / "late.jsonl"
    late.write_bytes(jsonl([_holding(503, customerSourceKey="W9999999")]))
    await _import(settings, engine, "holdings", late, defer_missing=True)
    direct = tmp_path / "direct.jsonl"
    direct.write_bytes(jsonl([_holding(503, customerSourceKey="W0000000", balance="7.00")]))
    await _import(settings, engine, "holdings", direct)
    assert await _rows(database, "SELECT 1 FROM import_pending") == []


def _movement(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "externalRef": f"MV-{n:06d}",
        "holdingSourceRef": f"MVACC-{n % 3}",
        "amount": "100.00",
        "direction": "DEBIT",
        "counterpartyKind": "OTHER_BANK",
        "channel": "WEB_BANKING",
        "bookedAt": "2026-01-15T09:30:00+08:00",
        **overrides,
    }


async def test_movements_are_recorded_once_per_reference_and_announced_unless_history(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    people = list(customers(3, seed=23, prefix="M", region="320102"))
    (tmp_path / "c.jsonl").write_bytes(jsonl(people))
    await _import(settings, engine, "customers", tmp_path / "c.jsonl")
    accounts = [
        _holding(
            n, sourceRef=f"MVACC-{n}", customerSourceKey=f"M{n:07d}", accountNumber=f"6217{n:012d}"
        )
        for n in range(3)
    ]
    (tmp_path / "h.jsonl").write_bytes(jsonl(accounts))
    await _import(settings, engine, "holdings", tmp_path / "h.jsonl")

    good = [_movement(n) for n in range(10)]
    bad = [
        _movement(100, holdingSourceRef="NOPE"),  # line 11
        _movement(101, amount="-5.00"),
        _movement(102, amount="1.234"),
        _movement(103, bookedAt="2999-01-01T00:00:00+08:00"),
        _movement(104, bookedAt="2026-01-15 09:30:00"),  # no offset
        _movement(105, currency="USD"),
        _movement(106, direction="SIDEWAYS"),
    ]
    path = tmp_path / "movements.jsonl"
    path.write_bytes(jsonl(good + bad))
    result, report = await _import(settings, engine, "movements", path)

    assert result.tally.inserted == 10
    assert [(r["line"], r["code"], r["field"]) for r in report] == [
        (11, "HOLDING_UNKNOWN", "holdingSourceRef"),
        (12, "INVALID_INPUT", "amount"),
        (13, "INVALID_INPUT", "amount"),
        (14, "INVALID_INPUT", "bookedAt"),
        (15, "INVALID_INPUT", "bookedAt"),
        (16, "INVALID_INPUT", "currency"),
        (17, "INVALID_INPUT", "direction"),
    ]
    events = await _rows(
        database, "SELECT count(*) AS n FROM outbox WHERE topic = 'fund_movement.recorded'"
    )
    assert events[0]["n"] == 10  # each one, for event detection

    again, _ = await _import(settings, engine, "movements", path)
    assert (again.tally.unchanged, again.tally.inserted) == (10, 0)
    reused = tmp_path / "reused.jsonl"
    reused.write_bytes(jsonl([_movement(0, amount="999.00")]))
    _, reused_report = await _import(settings, engine, "movements", reused)
    assert [(r["code"], r["field"]) for r in reused_report] == [
        ("IDEMPOTENCY_KEY_REUSED", "externalRef")
    ]

    history = tmp_path / "history.jsonl"
    history.write_bytes(
        jsonl([_movement(n, bookedAt="2020-03-01T10:00:00+08:00") for n in range(200, 230)])
    )
    past, _ = await _import(settings, engine, "movements", history, history=True)
    assert past.tally.inserted == 30
    events = await _rows(
        database, "SELECT count(*) AS n FROM outbox WHERE topic = 'fund_movement.recorded'"
    )
    assert events[0]["n"] == 10  # a history load announces nothing
    stored = await _rows(database, "SELECT count(*) AS n FROM fund_movements")
    assert stored[0]["n"] == 40


def _interaction(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "sourceRef": f"CC-{n:06d}",
        "customerSourceKey": f"I{n % 2:07d}",
        "channel": "CALL_CENTER",
        "kind": "INQUIRY",
        "occurredAt": "2025-11-02T14:05:00+08:00",
        "cost": "3.50",
        "summary": "询问理财产品",
        "offers": "TD-1Y|基金定投",
        "productsDiscussed": "DEP-CUR|CARD",
        **overrides,
    }


async def test_interactions_go_in_once_per_reference_without_tasks(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "c.jsonl").write_bytes(
        jsonl(list(customers(2, seed=24, prefix="I", region="320104")))
    )
    await _import(settings, engine, "customers", tmp_path / "c.jsonl")
    good = [_interaction(n) for n in range(6)] + [_interaction(6, kind="COMPLAINT")]
    bad = [
        _interaction(100, customerSourceKey="NOBODY"),  # line 8
        _interaction(101, occurredAt="2999-01-01T00:00:00+08:00"),
        _interaction(102, satisfaction="9"),
        _interaction(103, productsDiscussed="NOPE"),
        _interaction(104, branchCode="XX"),
        _interaction(105, cost="-1"),
    ]
    path = tmp_path / "interactions.jsonl"
    path.write_bytes(jsonl(good + bad))
    result, report = await _import(settings, engine, "interactions", path)

    assert result.tally.inserted == 7
    assert [(r["line"], r["code"], r["field"]) for r in report] == [
        (8, "CUSTOMER_UNKNOWN", "customerSourceKey"),
        (9, "INVALID_INPUT", "occurredAt"),
        (10, "INVALID_INPUT", "satisfaction"),
        (11, "UNKNOWN_PRODUCT", "productsDiscussed"),
        (12, "UNKNOWN_BRANCH", "branchCode"),
        (13, "INVALID_INPUT", "cost"),
    ]
    stored = await _rows(
        database,
        "SELECT i.offers, array_length(i.products_discussed, 1) AS products, i.cost::text AS cost "
        "FROM interactions i WHERE i.source_ref = 'CC-000000'",
    )
    assert tuple(stored[0]) == (["TD-1Y", "基金定投"], 2, "3.50")
    tasks = await _rows(database, "SELECT count(*) AS n FROM tasks")
    assert tasks[0]["n"] == 0  # a record of the past opens no work

    again, _ = await _import(settings, engine, "interactions", path)
    assert (again.tally.unchanged, again.tally.inserted) == (7, 0)
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(jsonl([_interaction(0, summary="另一件事")]))
    _, changed_report = await _import(settings, engine, "interactions", changed)
    assert [(r["code"], r["field"]) for r in changed_report] == [("SOURCE_REF_REUSED", "sourceRef")]
