"""Migrations: the models and the migrated schema agree, and every step goes down again."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.orm import RelationshipProperty

from api.cli import alembic_config
from api.db.tables import Base
from api.embedded import Endpoints
from api.seed import asyncpg_dsn
from tests.scratch import scratch_database


def test_alembic_check_finds_no_drift_between_models_and_migrations(endpoints: Endpoints) -> None:
    command.check(alembic_config(endpoints.database_url))


def test_migration_files_have_dated_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        assert revision.path is not None
        name = revision.path.rsplit("/", 1)[-1]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py", name), name


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


def test_every_migration_upgrades_and_downgrades_cleanly(endpoints: Endpoints) -> None:
    url = asyncio.run(scratch_database(endpoints, "quanjing_roundtrip"))
    config = alembic_config(url)
    command.upgrade(config, "head")
    assert asyncio.run(_tables(url)) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert asyncio.run(_tables(url)) == set()
    command.upgrade(config, "head")
    command.check(config)


@pytest.mark.parametrize("mapper", list(Base.registry.mappers), ids=lambda m: m.class_.__name__)
def test_every_relationship_refuses_lazy_loading(mapper: object) -> None:
    for rel in mapper.relationships:  # type: ignore[attr-defined]
        assert isinstance(rel, RelationshipProperty)
        assert rel.lazy == "raise", f"{rel} must be lazy='raise'"
