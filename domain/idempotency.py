"""Idempotency keys for callers that retry (Stripe's semantics).

The same key with the same payload replays the first response; the same key with a different
payload fails with IDEMPOTENCY_KEY_REUSED. Keys are scoped per caller and kept for a while.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from domain.errors import DomainError, InvalidInput

_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("this idempotency key was used with a different request")


def validate_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidInput("idempotencyKey", "8 to 100 characters of letters, digits and . _ : -")
    return key


def request_fingerprint(operation: str, payload: dict[str, Any]) -> str:
    """A stable hash of what was asked: key order and formatting do not matter."""
    canonical = json.dumps(
        {"op": operation, "input": payload},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
