"""Identity document numbers are encrypted at rest, found by keyed hash, and rotatable."""

from __future__ import annotations

import base64
import secrets

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn
from api.db.identity import pair_fingerprint
from api.db.profile_reader import SqlProfileReader
from api.db.webhooks import SECRET_CONTEXT, SqlWebhookStore
from api.ops.embedded import Endpoints
from api.ops.key_rotation import (
    reseal_webhook_secrets,
    rotate_document_keys,
    rotate_lookup_hashes,
)
from api.settings import Settings, SettingsError, parse_data_keys
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


async def test_rotation_reseals_webhook_secrets_under_the_new_key(
    engine: AsyncEngine, settings: Settings, seeded: int
) -> None:
    """Issue 22, defect 9: `rotate-keys` left webhook secrets under the old data key, so
    dropping it broke every delivery's signature."""
    ((old_kid, old_key),) = parse_data_keys((settings.home / "data-keys").read_text()).items()
    lookup = base64.b64decode((settings.home / "lookup-key").read_text())
    store = SqlWebhookStore(engine, DocumentCrypto({old_kid: old_key}, lookup))
    made = await store.create(
        "https://receiver.example/hook", frozenset({"interaction.recorded"}), None, "s3cr3t", "t"
    )
    new_key = secrets.token_bytes(32)
    rotated = DocumentCrypto({"k-new": new_key, old_kid: old_key}, lookup)
    try:
        assert await reseal_webhook_secrets(engine, rotated) >= 1
        assert await reseal_webhook_secrets(engine, rotated) == 0
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT secret_key_id, secret_ciphertext FROM webhook_subscriptions "
                        "WHERE id = :id"
                    ),
                    {"id": made.id},
                )
            ).one()
        assert row.secret_key_id == "k-new"
        only_new = DocumentCrypto({"k-new": new_key}, lookup)
        assert only_new.open_secret(SECRET_CONTEXT, "k-new", row.secret_ciphertext) == "s3cr3t"
    finally:
        back = DocumentCrypto({old_kid: old_key, "k-new": new_key}, lookup)
        await reseal_webhook_secrets(engine, back)
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM webhook_subscriptions WHERE id = :id"), {"id": made.id}
            )


async def test_the_lookup_key_rotates_and_what_was_derived_from_it_follows(
    endpoints: Endpoints, engine: AsyncEngine, settings: Settings, seeded: int
) -> None:
    """Issue 22, defect 9: the HMAC lookup key had no rotation. With the new key first and the
    old one after it, numbers are found under either while `rotate-keys` rehashes; after it,
    under the new key alone, with identity resolution's keys and a steward's standing
    "not the same" decision carried over."""
    data = parse_data_keys((settings.home / "data-keys").read_text())
    old = base64.b64decode((settings.home / "lookup-key").read_text())
    new = secrets.token_bytes(32)
    a, b = await make_customer(engine), await make_customer(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customer_match_keys (key, customer_id) "
                "SELECT 'doc:' || type || ':' || encode(number_hmac, 'hex'), customer_id "
                "FROM identity_documents WHERE customer_id = :c ON CONFLICT DO NOTHING"
            ),
            {"c": a.id},
        )
        decided = await pair_fingerprint(conn, a.id, b.id)
        pair = await conn.scalar(
            text(
                "INSERT INTO match_candidates (left_id, right_id, probability, weight, evidence, "
                "model_version, status, fingerprint, decided_fingerprint, decided_by, decided_at) "
                "VALUES (:l, :r, 0.9, 5, '[]', 'test', 'not_same', :f, :f, 'steward', now()) "
                "RETURNING id"
            ),
            {"l": a.id, "r": b.id, "f": decided},
        )
    during = DocumentCrypto(data, {"l2": new, "default": old})
    key = (DocumentType.RESIDENT_ID, a.resident_id)
    try:
        # Before the rehash, found through the old key, which is still listed.
        reader = SqlProfileReader(engine, during)
        assert await reader.customer_ids_by_document([key]) == {key: a.id}
        count = await rotate_lookup_hashes(engine, during, batch=97)
        assert count > 300
        assert await rotate_lookup_hashes(engine, during) == 0
        only_new = SqlProfileReader(engine, DocumentCrypto(data, {"l2": new}))
        assert await only_new.customer_ids_by_document([key]) == {key: a.id}
        async with engine.connect() as conn:
            fresh = during.lookup_hash(DocumentType.RESIDENT_ID.value, a.resident_id).hex()
            keys = set(
                await conn.scalars(
                    text("SELECT key FROM customer_match_keys WHERE customer_id = :c"),
                    {"c": a.id},
                )
            )
            assert f"doc:{DocumentType.RESIDENT_ID.value}:{fresh}" in keys
            now = await pair_fingerprint(conn, a.id, b.id)
            kept = await conn.scalar(
                text("SELECT decided_fingerprint FROM match_candidates WHERE id = :id"),
                {"id": pair},
            )
        assert now != decided  # the hashes are in the fingerprint…
        assert kept == now  # …and the decision moved with them
    finally:
        await rotate_lookup_hashes(engine, DocumentCrypto(data, {"default": old, "l2": new}))
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM match_candidates WHERE id = :id"), {"id": pair})
