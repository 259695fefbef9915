"""The import's templates and column reference: every column documented, both templates import
cleanly into the demo bank (a dry run: the shared database stays as it is)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.ops.importer import ImportOptions, import_file
from api.settings import Settings
from domain.imports.customers import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "docs" / "import-templates"


def test_every_customer_column_is_documented_and_in_the_csv_template() -> None:
    guide = (ROOT / "docs" / "integration.md").read_text()
    assert [c for c in COLUMNS if f"| `{c}` |" not in guide] == []
    header = next(csv.reader(io.StringIO((TEMPLATES / "customers.csv").read_text())))
    assert header == list(COLUMNS)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("name", ["customers.csv", "customers.jsonl"])
async def test_the_templates_import_into_the_demo_bank(
    seeded: int, engine: AsyncEngine, settings: Settings, tmp_path: Path, name: str
) -> None:
    copy = tmp_path / name
    copy.write_bytes((TEMPLATES / name).read_bytes())
    out = io.StringIO()
    result = await import_file(
        settings, engine, ImportOptions("customers", copy, dry_run=True), out
    )
    assert (result.tally.inserted, dict(result.tally.refused)) == (3, {}), out.getvalue()
    assert (tmp_path / f"{name}.report.jsonl").read_bytes() == b""
    assert all(
        orjson.loads(line) for line in (TEMPLATES / "customers.jsonl").read_bytes().splitlines()
    )
