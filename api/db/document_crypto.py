"""Identity document numbers at rest: AES-256-GCM ciphertext plus an HMAC-SHA256 lookup hash.

The ciphertext protects a stolen backup or a careless SELECT; the keyed hash lets an exact
lookup (counter, search) use a btree index without decrypting anything. Keys come from
settings: `QUANJING_DATA_KEYS` ("kid:base64key,…", the first encrypts, all decrypt) and
`QUANJING_LOOKUP_KEY` (one base64 key, or "kid:base64key,…" while it is rotated: the first
hashes, every one is looked up with). A development install generates both once under
`$QUANJING_HOME`. Rotation: docs/security.md, "Key rotation"; `quanjing rotate-keys`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.secret_files import development_secret_file
from api.settings import (
    Settings,
    SettingsError,
    parse_data_keys,
    parse_lookup_keys,
)

NONCE_BYTES = 12


def _fresh_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True, slots=True)
class Sealed:
    ciphertext: bytes
    key_id: str
    lookup: bytes


class DocumentCrypto:
    def __init__(self, data_keys: dict[str, bytes], lookup_key: bytes | dict[str, bytes]) -> None:
        self.keys = {kid: AESGCM(key) for kid, key in data_keys.items()}
        self.active = next(iter(data_keys))
        # The first hashes what is written; all are tried when looking up, so a number hashed
        # under the previous key is still found while `rotate-keys` rehashes.
        self.lookup_keys = lookup_key if isinstance(lookup_key, dict) else {"default": lookup_key}
        self.lookup_key = next(iter(self.lookup_keys.values()))

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentCrypto:
        spec = settings.data_keys
        lookup = settings.lookup_key
        if (spec is None or lookup is None) and settings.is_production:
            raise SettingsError(
                "QUANJING_DATA_KEYS and QUANJING_LOOKUP_KEY are required in production"
            )
        if spec is None:
            spec = development_secret_file(
                settings.home, "data-keys", lambda: f"dev1:{_fresh_key()}"
            )
        if lookup is None:
            lookup = development_secret_file(settings.home, "lookup-key", _fresh_key)
        return cls(parse_data_keys(spec), parse_lookup_keys(lookup))

    def lookup_hash(self, doc_type: str, number: str) -> bytes:
        """The hash written now, under the active lookup key."""
        return _hmac(self.lookup_key, doc_type, number)

    def lookup_hashes(self, doc_type: str, number: str) -> list[bytes]:
        """The hashes to look a number up by: under every lookup key, the active one first."""
        return [_hmac(key, doc_type, number) for key in self.lookup_keys.values()]

    def seal(self, doc_type: str, number: str, customer_id: int) -> Sealed:
        """A document number sealed to its row: the document type and the customer are its
        associated data, so a ciphertext copied to another type, or to another customer's
        row, fails to open (it cannot lend one customer another's number unnoticed)."""
        sealed = self.encrypt(number, document_context(doc_type, customer_id))
        return Sealed(sealed, self.active, self.lookup_hash(doc_type, number))

    def open(self, doc_type: str, key_id: str, sealed: bytes, customer_id: int) -> str:
        return self.decrypt(key_id, sealed, document_context(doc_type, customer_id))

    def seal_secret(self, context: str, value: str) -> tuple[bytes, str]:
        """Another secret (a webhook's signing secret): (ciphertext, key id)."""
        return self.encrypt(value, context.encode()), self.active

    def open_secret(self, context: str, key_id: str, sealed: bytes) -> str:
        return self.decrypt(key_id, sealed, context.encode())

    def encrypt(self, value: str, associated: bytes) -> bytes:
        """Under the active key, a fresh nonce first (migrations use this and `decrypt`
        directly: the associated data of a row has changed over time)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self.keys[self.active].encrypt(nonce, value.encode(), associated)

    def decrypt(self, key_id: str, sealed: bytes, associated: bytes) -> str:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return self.keys[key_id].decrypt(nonce, ciphertext, associated).decode()


def document_context(doc_type: str, customer_id: int) -> bytes:
    """The associated data of a document number: its type and its customer."""
    return f"{doc_type}:customer:{customer_id}".encode()


def _hmac(key: bytes, doc_type: str, number: str) -> bytes:
    return hmac.new(key, f"{doc_type}:{number}".encode(), hashlib.sha256).digest()
