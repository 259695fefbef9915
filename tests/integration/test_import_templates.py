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
from domain.imports.customers import COLUMNS as CUSTOMER_COLUMNS
from domain.imports.holdings import COLUMNS as HOLDING_COLUMNS
from domain.imports.reference import BRANCH_COLUMNS, PRODUCT_COLUMNS, STAFF_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "docs" / "import-templates"


KINDS = {
    "customers": CUSTOMER_COLUMNS,
    "holdings": HOLDING_COLUMNS,
    "branches": BRANCH_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "staff": STAFF_COLUMNS,
}
HEADINGS = {
    "customers": "### Customer columns",
    "holdings": "### Holding columns",
    "branches": "#### Branches",
    "products": "#### Products",
    "staff": "#### Staff",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_column_is_documented_and_in_the_csv_template(kind: str) -> None:
    guide = (ROOT / "docs" / "integration.md").read_text()
    section = guide[guide.index(HEADINGS[kind]) :]
    section = section[: section.index("\n#", 4)]  # up to the next heading
    assert [c for c in KINDS[kind] if f"| `{c}` |" not in section] == []
    header = next(csv.reader(io.StringIO((TEMPLATES / f"{kind}.csv").read_text())))
    assert header == list(KINDS[kind])


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize(
    ("kind", "suffix", "records"),
    [
        ("customers", "csv", 3),
        ("customers", "jsonl", 3),
        ("holdings", "csv", 2),
        ("holdings", "jsonl", 2),
        *(
            (kind, suffix, 2)
            for kind in ("branches", "products", "staff")
            for suffix in ("csv", "jsonl")
        ),
    ],
)
async def test_the_templates_import_into_the_demo_bank(
    seeded: int,
    engine: AsyncEngine,
    settings: Settings,
    tmp_path: Path,
    kind: str,
    suffix: str,
    records: int,
) -> None:
    name = f"{kind}.{suffix}"
    copy = tmp_path / name
    copy.write_bytes((TEMPLATES / name).read_bytes())
    out = io.StringIO()
    result = await import_file(settings, engine, ImportOptions(kind, copy, dry_run=True), out)
    assert (result.tally.inserted, dict(result.tally.refused)) == (records, {}), out.getvalue()
    assert (tmp_path / f"{name}.report.jsonl").read_bytes() == b""
    if suffix == "jsonl":
        assert all(orjson.loads(line) for line in copy.read_bytes().splitlines())
