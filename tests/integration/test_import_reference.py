"""`quanjing import branches|products|staff`: reference data by the owners' keys, through the
use cases of upsertBranch, upsertProduct and upsertRelationshipManager, a savepoint per record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import create_engine
from api.ops.embedded import Endpoints
from api.settings import Settings
from domain.imports.run import RunResult
from tests.import_files import fetch, fresh_database, jsonl, run_import

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def database(endpoints: Endpoints) -> str:
    return await fresh_database(endpoints, "import_reference")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database, settings)
    yield created
    await created.dispose()


async def _import(
    settings: Settings, engine: AsyncEngine, kind: str, path: Path, records: list[dict[str, Any]]
) -> tuple[RunResult, list[tuple[int, str, str | None]]]:
    await asyncio.to_thread(path.write_bytes, jsonl(records))
    result, report, _ = await run_import(settings, engine, kind, path, system="hr")
    return result, [(r["line"], r["code"], r["field"]) for r in report]


async def _rows(database: str, query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await fetch(database, query)]


async def test_branches_products_and_staff_go_in_by_key_and_again_change_nothing(
    database: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    branches = [
        {"sourceKey": "B0", "code": "HO", "name": "总行", "city": "北京", "kind": "HEAD_OFFICE"},
        {"sourceKey": "B1", "code": "SH00", "name": "上海分行", "city": "上海", "kind": "BRANCH", "parentCode": "HO"},
        {"sourceKey": "B2", "code": "SH01", "name": "黄浦支行", "city": "上海", "kind": "SUB_BRANCH", "parentCode": "SH00"},
        {"sourceKey": "B3", "code": "SH02", "name": "无上级", "city": "上海", "kind": "SUB_BRANCH"},
        {"sourceKey": "B4", "code": "SH03", "name": "错级别", "city": "上海", "kind": "REGION", "parentCode": "SH00"},
        {"sourceKey": "B5", "code": "SH04", "name": "未知上级", "city": "上海", "kind": "SUB_BRANCH", "parentCode": "ZZ"},
    ]  # fmt: skip
    result, report = await _import(settings, engine, "branches", tmp_path / "b.jsonl", branches)
    assert result.tally.inserted == 3
    assert report == [
        (4, "INVALID_INPUT", "parentCode"),
        (5, "INVALID_INPUT", "kind"),
        (6, "INVALID_INPUT", "parentCode"),
    ]
    assert await _rows(database, "SELECT code FROM branches ORDER BY id") == [
        ("HO",),
        ("SH00",),
        ("SH01",),
    ]

    products = [
        {"sourceKey": "P1", "code": "DEP-CUR", "name": "活期", "category": "DEPOSIT", "audience": "PERSONAL"},
        {"sourceKey": "P2", "code": "CARD", "name": "信用卡", "category": "credit_card", "audience": "any", "currency": "usd"},
        {"sourceKey": "P3", "code": "BAD", "name": "坏币种", "category": "DEPOSIT", "audience": "ANY", "currency": "XXXX"},
    ]  # fmt: skip
    result, report = await _import(settings, engine, "products", tmp_path / "p.jsonl", products)
    assert (result.tally.inserted, report) == (2, [(3, "INVALID_INPUT", "currency")])

    staff = [
        {"sourceKey": "E1", "employeeNo": "RM001", "name": "张经理", "grade": "3", "branchCode": "SH01"},
        {"sourceKey": "E2", "employeeNo": "RM002", "name": "李经理", "grade": "5", "branchCode": "SH01"},
        {"sourceKey": "E3", "employeeNo": "RM003", "name": "王经理", "grade": "2", "branchCode": "NOPE"},
    ]  # fmt: skip
    result, report = await _import(settings, engine, "staff", tmp_path / "s.jsonl", staff)
    assert (result.tally.inserted, report) == (
        1,
        [(2, "INVALID_INPUT", "grade"), (3, "INVALID_INPUT", "branchCode")],
    )

    # The same files again: unchanged; a changed name is an update of the keyed record.
    again, _ = await _import(settings, engine, "branches", tmp_path / "b2.jsonl", branches)
    assert (again.tally.unchanged, again.tally.inserted, again.tally.updated) == (3, 0, 0)
    renamed = [branches[2] | {"name": "黄浦第一支行"}]
    changed, _ = await _import(settings, engine, "branches", tmp_path / "b3.jsonl", renamed)
    assert changed.tally.updated == 1
    assert await _rows(database, "SELECT name FROM branches WHERE code = 'SH01'") == [
        ("黄浦第一支行",)
    ]
    keys = await _rows(
        database, "SELECT kind, key FROM reference_keys WHERE system = 'hr' ORDER BY kind, key"
    )
    assert keys == [
        ("branch", "B0"),
        ("branch", "B1"),
        ("branch", "B2"),
        ("product", "P1"),
        ("product", "P2"),
        ("staff", "E1"),
    ]
