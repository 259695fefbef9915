"""Public ids: opaque global ids (Relay), base64url of "<TypeName>:<primary key>", the same in
GraphQL answers, webhook bodies and alert evidence, and the keys written inside them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from domain.errors import InvalidInput

MAX_PK = 2**63 - 1  # primary keys are PostgreSQL bigints


def parse_key(raw: str, field: str, message: str) -> int:
    """A primary key written in an id or a cursor, or InvalidInput(field, message).

    Plain ASCII digits only (int() would also take "1_0", " 7" or "٣", and str.isdigit() says
    yes to "²", which int() refuses), and within the bigint keys: a larger number used to reach
    the driver and fail as an internal error."""
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(field, message)
    pk = int(raw)
    if not 0 < pk <= MAX_PK:
        raise InvalidInput(field, message)
    return pk


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str, *, field: str = "id") -> tuple[str, int]:
    """Split a global id into its type name and primary key, or raise InvalidInput."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw_pk = base64.urlsafe_b64decode(padded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(field, "not a valid id") from exc
    if not type_name:
        raise InvalidInput(field, "not a valid id")
    return type_name, parse_key(raw_pk, field, "not a valid id")


def decode_typed_id(global_id: str, expected: str, *, field: str = "id") -> int:
    type_name, pk = decode_id(global_id, field=field)
    if type_name != expected:
        raise InvalidInput(field, f"the id is not a {expected} id")
    return pk


# Ids inside event payloads and alert evidence, by key: clients see the same opaque global ids
# there as everywhere else in the API, so `node(id:)` and the mutations accept them.
ID_KEYS = {
    "customerId": "Customer",
    "interactionId": "Interaction",
    "taskId": "Task",
    "movementId": "FundMovement",
    "holdingId": "Holding",
    "alertId": "Alert",
    "proposalId": "Proposal",
    "campaignId": "Campaign",
}


def with_global_ids(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: encode_id(ID_KEYS[key], value)
        if key in ID_KEYS and isinstance(value, int) and not isinstance(value, bool)
        else value
        for key, value in payload.items()
    }
