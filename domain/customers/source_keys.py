"""Source cross-references: the keys a customer has in the bank's other systems.

Core banking knows a customer by its customer number, the card system by its own, the loan
system by a third. Each is a (system, key) pair, unique per system; a customer may have several.
Integrations resolve quanjing's ids by them and write by them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from domain.access.principal import Principal, Role
from domain.errors import InvalidInput, RuleViolation

MAX_KEY = 100
_SYSTEM = re.compile(r"[a-z][a-z0-9_-]{0,39}")


@dataclass(frozen=True, slots=True)
class SourceKey:
    system: str  # e.g. core_banking, cards, loans
    key: str  # the customer's id there, as that system writes it


def validate_source_key(system: str, key: str, field: str | None = None) -> SourceKey:
    """A source key as stored: the system a lower-case name, the key 1–100 printable
    characters (kept as written: leading zeros are part of a customer number). `field` is the
    input holding both (errors name `field.system` / `field.key`); None: two arguments."""
    prefix = "" if field is None else f"{field}."
    if not _SYSTEM.fullmatch(system):
        raise InvalidInput(
            f"{prefix}system", "a system name is 1–40 lower-case letters, digits, _ or -"
        )
    stripped = key.strip()
    if not stripped or len(stripped) > MAX_KEY or not stripped.isprintable():
        raise InvalidInput(f"{prefix}key", f"a key is 1–{MAX_KEY} printable characters")
    return SourceKey(system, stripped)


class SourceKeyTaken(RuleViolation):
    """The key already names another customer in that system."""

    code = "SOURCE_KEY_TAKEN"


def may_link(principal: Principal, system: str) -> bool:
    """Who records that a customer has a key in a system: that system itself (an integration
    whose client id is the system's name), an admin or a data steward."""
    if principal.role is Role.INTEGRATION:
        return principal.client_id == system
    return principal.role in (Role.ADMIN, Role.STEWARD)


class SourceKeys(Protocol):
    async def customer_of(self, key: SourceKey) -> int | None:
        """The customer the key names, or None."""
        ...

    async def holding_of(self, source_ref: str) -> int | None:
        """The holding its source system's reference names (upsertHolding's sourceRef)."""
        ...

    async def has_key(self, customer_id: int, system: str) -> bool:
        """Whether the customer has a key in the system (its records name them)."""
        ...

    async def link(self, customer_id: int, key: SourceKey, actor: str) -> bool:
        """Record the key for the customer; False when it was recorded already (harmless).
        Raises SourceKeyTaken when it names another customer, NotFound when the customer
        does not exist."""
        ...
