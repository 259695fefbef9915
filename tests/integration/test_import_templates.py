"""The import's templates and column reference: every column documented and in its template,
and the templates, imported in the order of the initial-load recipe (branches, products, staff,
customers, holdings, movements, interactions) into a small demo bank, go in whole — as CSV, and
again as JSON Lines, which then changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import migrate
from api.db.bulk_import import KINDS
from api.db.document_crypto import DocumentCrypto
from api.db.engine import create_engine
from api.ops.embedded import Endpoints
from api.ops.importer import ImportOptions, import_file
from api.ops.seed import seed
from api.settings import Settings
from tests.scratch import scratch_database

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "docs" / "import-templates"
RECIPE = ("branches", "products", "staff", "customers", "holdings", "movements", "interactions")
HEADINGS: Mapping[str, str] = {
    "customers": "### Customer columns",
    "holdings": "### Holding columns",
    "branches": "#### Branches",
    "products": "#### Products",
    "staff": "#### Staff",
    "movements": "### Movement columns",
    "interactions": "### Interaction columns",
}


def test_the_recipe_covers_every_kind() -> None:
    assert sorted(RECIPE) == sorted(KINDS) == sorted(HEADINGS)


@pytest.mark.parametrize("kind", RECIPE)
def test_every_column_is_documented_and_in_the_csv_template(kind: str) -> None:
    guide = (ROOT / "docs" / "integration.md").read_text()
    section = guide[guide.index(HEADINGS[kind]) :]
    section = section[: section.index("\n#", 4)]  # up to the next heading
    columns = KINDS[kind].columns
    assert [c for c in columns if f"| `{c}` |" not in section] == []
    header = next(csv.reader(io.StringIO((TEMPLATES / f"{kind}.csv").read_text())))
    assert header == list(columns)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_templates_load_a_bank_in_the_recipes_order(
    endpoints: Endpoints, settings: Settings, crypto: DocumentCrypto, tmp_path: Path
) -> None:
    url = await scratch_database(endpoints, "import_templates")
    await asyncio.to_thread(migrate, url)
    await seed(url, crypto=crypto, customers=20, seed=3)
    engine: AsyncEngine = create_engine(url, settings)
    try:
        for suffix, outcome in (("csv", "inserted"), ("jsonl", "unchanged")):
            for kind in RECIPE:
                name = f"{kind}.{suffix}"
                copy = tmp_path / name
                data = (TEMPLATES / name).read_bytes()
                if suffix == "jsonl":
                    assert all(orjson.loads(line) for line in data.splitlines())
                copy.write_bytes(data)
                out = io.StringIO()
                result = await import_file(settings, engine, ImportOptions(kind, copy), out)
                counts = result.tally.as_dict()
                assert dict(result.tally.refused) == {}, (name, out.getvalue())
                assert counts[outcome] == len(data.splitlines()) - (suffix == "csv"), name
    finally:
        await engine.dispose()
