"""Migrations: the models and the migrated schema agree, and every step goes down again."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import RelationshipProperty

from api.cli import alembic_config
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.db.tables import Base
from api.ops.embedded import Endpoints
from api.settings import Settings
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


def test_document_numbers_are_resealed_to_their_customer_and_back(
    endpoints: Endpoints, settings: Settings, crypto: DocumentCrypto
) -> None:
    url = asyncio.run(scratch_database(endpoints, "quanjing_reseal"))
    config = alembic_config(url, settings)
    command.upgrade(config, "653fce7096a1")  # before the binding
    number = "110101199003071234"

    async def insert_old_style() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            customer_id: int = await conn.fetchval(
                "INSERT INTO customers (code, kind, display_name) VALUES ('P1', 'personal', "
                "'旧式') RETURNING id"
            )
            await conn.execute(
                "INSERT INTO identity_documents (customer_id, type, number_ciphertext, "
                "number_key_id, number_hmac) VALUES ($1, 'resident_id', $2, $3, $4)",
                customer_id,
                crypto.encrypt(number, b"resident_id"),  # the type alone, as sealed then
                crypto.active,
                crypto.lookup_hash("resident_id", number),
            )
            return customer_id
        finally:
            await conn.close()

    async def stored() -> tuple[str, bytes]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            row = await conn.fetchrow(
                "SELECT number_key_id, number_ciphertext FROM identity_documents"
            )
            assert row is not None
            return row["number_key_id"], bytes(row["number_ciphertext"])
        finally:
            await conn.close()

    customer_id = asyncio.run(insert_old_style())
    command.upgrade(config, "head")
    key_id, sealed = asyncio.run(stored())
    assert crypto.open("resident_id", key_id, sealed, customer_id) == number
    with pytest.raises(InvalidTag):  # bound: it does not open as another customer's
        crypto.open("resident_id", key_id, sealed, customer_id + 1)
    command.downgrade(config, "653fce7096a1")
    key_id, sealed = asyncio.run(stored())
    assert crypto.decrypt(key_id, sealed, b"resident_id") == number
