"""`quanjing resolve` over a base with planted duplicates: the same people written another way
are proposed with their evidence, a family sharing a phone and an address is not, a pair the
steward rejected stays rejected, and a second run changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import create_engine
from api.db.identity import resolve
from api.ops.embedded import Endpoints
from api.settings import Settings
from tests.import_files import customers, fetch, fresh_database, jsonl, run_import

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(endpoints: Endpoints, settings: Settings) -> AsyncIterator[AsyncEngine]:
    url = await fresh_database(endpoints, "resolve")
    created = create_engine(url, settings)
    yield created
    await created.dispose()


async def test_planted_duplicates_are_proposed_with_evidence_and_families_are_not(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    base: list[dict[str, Any]] = list(customers(40, seed=41, prefix="R", region="330102"))
    person = base[0] = base[0] | {"displayName": "张伟"}
    twin = {  # the same man at the card centre: traditional name, a passport, the same mobile
        "sourceKey": "CARD-1",
        "kind": "PERSONAL",
        "displayName": "張偉",
        "passport": "E12345678",
        "phone": person["phone"],
        "birthDate": None,
    }
    family = base[1] | {"phone": base[2]["phone"]}  # shares a phone with base[2], no more
    records = [*base[:1], family, *base[2:], twin]
    path = tmp_path / "base.jsonl"
    path.write_bytes(jsonl(records))
    await run_import(settings, engine, "customers", path, system="core")
    url = engine.url.render_as_string(hide_password=False)

    report = await resolve(engine, threshold=0.8)

    assert report.customers == 41
    assert report.kept == 1
    rows = await fetch(
        url,
        "SELECT l.key AS left_key, r.key AS right_key, m.probability, m.evidence, m.status "
        "FROM match_candidates m "
        "JOIN customer_source_keys l ON l.customer_id = m.left_id "
        "JOIN customer_source_keys r ON r.customer_id = m.right_id",
    )
    (pair,) = rows
    assert (pair["left_key"], pair["right_key"], pair["status"]) == (
        "R0000000",
        "CARD-1",
        "pending",
    )
    assert pair["probability"] > 0.99
    evidence = {e["field"]: e["level"] for e in orjson.loads(pair["evidence"])}
    assert evidence["name"] == "simplified"
    assert evidence["phone"] == "shared"

    # The steward says no: the pair stays decided when the base is matched again.
    await fetch(url, "UPDATE match_candidates SET status = 'rejected'")
    again = await resolve(engine, threshold=0.8)
    assert again.kept == 1
    statuses = await fetch(url, "SELECT status FROM match_candidates")
    assert [r["status"] for r in statuses] == ["rejected"]
