"""Identity document numbers are encrypted at rest, found by keyed hash, and rotatable."""

from __future__ import annotations

import base64
import secrets

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto, parse_data_keys
from api.db.engine import asyncpg_dsn
from api.db.profile_reader import SqlProfileReader
from api.ops.embedded import Endpoints
from api.ops.key_rotation import rotate_document_keys
from api.settings import Settings, SettingsError
from domain.customers.model import DocumentType
from tests.factories import make_customer


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_a_sealed_number_opens_only_with_its_key_type_and_customer() -> None:
    crypto = DocumentCrypto(parse_data_keys(f"a:{_key()}"), secrets.token_bytes(32))
    sealed = crypto.seal("resident_id", "110101199003071234", 7)
    assert b"110101199003071234" not in sealed.ciphertext
    assert crypto.open("resident_id", "a", sealed.ciphertext, 7) == "110101199003071234"
    with pytest.raises(InvalidTag):  # moved to another type: authentication fails
        crypto.open("passport", "a", sealed.ciphertext, 7)
    with pytest.raises(InvalidTag):  # moved to another customer's row: it fails too
        crypto.open("resident_id", "a", sealed.ciphertext, 8)
    again = crypto.seal("resident_id", "110101199003071234", 7)
    assert again.ciphertext != sealed.ciphertext  # a fresh nonce every time
    assert again.lookup == sealed.lookup  # the lookup hash is stable


@pytest.mark.parametrize(
    "spec", ["", "nokey", "a:not-base64!", f"a:{base64.b64encode(b'short').decode()}"]
)
def test_malformed_data_keys_are_refused(spec: str) -> None:
    with pytest.raises(SettingsError):
        parse_data_keys(spec)


async def test_the_database_never_holds_a_clear_number(
    endpoints: Endpoints, engine: AsyncEngine, seeded: int
) -> None:
    made = await make_customer(engine)
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        (row,) = await conn.fetch(
            "SELECT * FROM identity_documents WHERE customer_id = $1", made.id
        )
    finally:
        await conn.close()
    # Every column as stored, bytes as bytes: rendered as text, bytea is hex, and a clear
    # number in the ciphertext column would pass unseen.
    clear = made.resident_id.encode()
    for column, value in row.items():
        stored = value if isinstance(value, bytes) else str(value).encode()
        assert clear not in stored, column
    assert isinstance(row["number_ciphertext"], bytes)


async def test_rotation_reencrypts_under_the_new_key_and_lookups_still_work(
    endpoints: Endpoints, engine: AsyncEngine, settings: Settings, seeded: int
) -> None:
    made = await make_customer(engine)
    ((old_kid, old_key),) = parse_data_keys((settings.home / "data-keys").read_text()).items()
    lookup = base64.b64decode((settings.home / "lookup-key").read_text())
    new_key = secrets.token_bytes(32)
    # The new key first (it encrypts), the old one after it (it still decrypts).
    rotated = DocumentCrypto({"k-new": new_key, old_kid: old_key}, lookup)
    try:
        count = await rotate_document_keys(endpoints.database_url, rotated, batch=97)
        assert count > 300  # the seeded bank and the factories' customers
        assert await rotate_document_keys(endpoints.database_url, rotated) == 0  # nothing left
        reader = SqlProfileReader(engine, DocumentCrypto({"k-new": new_key}, lookup))
        (document,) = (await reader.documents_by_customer([made.id]))[made.id]
        assert document.number == made.resident_id
        found = await reader.customer_ids_by_document(
            [(DocumentType.RESIDENT_ID, made.resident_id)]
        )
        assert found == {(DocumentType.RESIDENT_ID, made.resident_id): made.id}
    finally:
        # Put the bank back under the session's key for the tests that follow, pass or fail.
        back = DocumentCrypto({old_kid: old_key, "k-new": new_key}, lookup)
        await rotate_document_keys(endpoints.database_url, back)
