"""Registered (persisted) operations of the first-party channels, addressed by sha256.

Clients send `{"id": "<sha256>", "variables": …}` (or Apollo's
`extensions.persistedQuery.sha256Hash`) instead of the query text: smaller requests, and the
server runs only text it knows. The hash is of the file's text exactly as stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parent.parent / "operations"


@dataclass(frozen=True, slots=True)
class PersistedOperation:
    name: str
    sha256: str
    query: str


@cache
def registry() -> dict[str, PersistedOperation]:
    found: dict[str, PersistedOperation] = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        found[digest] = PersistedOperation(path.stem, digest, text)
    return found
