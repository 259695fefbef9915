"""Webhooks: telling other systems what happened, signed the Standard Webhooks way.

A subscription names a URL and the event types it wants; every matching event becomes one
delivery per subscription, attempted until the receiver answers 2xx, with exponential
backoff, and moved to the dead-letter state after the last attempt. Every attempt is kept.
"""

from __future__ import annotations

import base64
import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Protocol
from urllib.parse import urlsplit

from domain.errors import InvalidInput

# The events other systems may subscribe to: what the outbox announces. Events carry ids,
# kinds and amounts of the bank's own records, never names, documents or contact points.
EVENT_TYPES = frozenset(
    {
        "interaction.recorded",
        "task.opened",
        "task.completed",
        "fund_movement.recorded",
        "holding.opened",
        "holding.changed",
        "holding.closed",
        "relationship.state_changed",
        "relationship.change_proposed",
        "alert.opened",
        "alert.acknowledged",
        "alert.closed",
        "customer.registered",
        "customer.changed",
        "customer.converted",
        "customer.merged",
        "customer.unmerged",
        "campaign.contact",
    }
)
MAX_URL = 2000
MAX_BACKOFF = timedelta(hours=6)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # every attempt failed: the dead-letter state, retried only by hand


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    url: str
    event_types: frozenset[str]
    active: bool
    description: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int
    event_id: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a receiver at `address` may not be called, or None. Only public addresses may be
    called, unless an operator listed the network for internal receivers: a webhook URL
    pointing inside the bank (a metadata service, an admin port) would make quanjing a proxy
    into it (SSRF)."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return "IPv4-mapped"
    for kind, matches in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),  # RFC 1918, and unique-local fc00::/7 for IPv6
        ("reserved", address.is_reserved),
    ):
        if matches:
            return kind
    return None if address.is_global else "non-public"


class ReceiverResolver(Protocol):
    async def addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        """Every address `host` resolves to now; LookupError when it resolves to none."""
        ...


@dataclass(frozen=True, slots=True)
class ReceiverRules:
    """Where webhooks may be sent: https only (production), public addresses only, except the
    networks an operator allows for internal receivers."""

    resolver: ReceiverResolver
    require_https: bool = True
    allowed_networks: tuple[IPNetwork, ...] = ()


async def allowed_address(url: str, rules: ReceiverRules) -> IPAddress:
    """The address to call `url` at: its host resolved now, every address it resolves to
    checked (a host with one private address among public ones is refused), the first
    returned. The caller connects to this address, not to the name again, so a DNS answer that
    changes in between (rebinding) cannot send the request elsewhere."""
    parts = urlsplit(validate_url(url, rules.require_https))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInput("url", "the port is not a number from 0 to 65535") from exc
    assert parts.hostname is not None  # validate_url requires one
    try:
        addresses = await rules.resolver.addresses(parts.hostname, port)
    except LookupError as exc:
        raise InvalidInput("url", "the host name does not resolve") from exc
    for address in addresses:
        if (why := refusal(address, rules.allowed_networks)) is not None:
            raise InvalidInput(
                "url",
                f"the host resolves to a {why} address: receivers must be public, or on a "
                "network the operator allows (QUANJING_WEBHOOK_ALLOWED_NETWORKS)",
            )
    return addresses[0]


async def check_receiver(url: str, rules: ReceiverRules) -> str:
    """A subscription's URL, validated and its address allowed now (checked again at each
    delivery)."""
    await allowed_address(url, rules)
    return url.strip()


def validate_url(url: str, require_https: bool) -> str:
    url = url.strip()
    if len(url) > MAX_URL:
        raise InvalidInput("url", f"the URL is longer than {MAX_URL}")
    parts = urlsplit(url)
    schemes = ("https",) if require_https else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput("url", f"the URL must be absolute with scheme {' or '.join(schemes)}")
    if parts.username or parts.password:
        raise InvalidInput("url", "credentials do not belong in the URL; the signature proves us")
    return url


def validate_event_types(event_types: Sequence[str]) -> frozenset[str]:
    chosen = frozenset(event_types)
    if not chosen:
        raise InvalidInput("eventTypes", "subscribe to at least one event type")
    unknown = chosen - EVENT_TYPES
    if unknown:
        raise InvalidInput(
            "eventTypes", f"unknown event types {sorted(unknown)}; known: {sorted(EVENT_TYPES)}"
        )
    return chosen


def validate_description(description: str | None) -> str | None:
    text = " ".join((description or "").split())
    if len(text) > 200:
        raise InvalidInput("description", "the description is longer than 200")
    return text or None


def next_attempt(attempts: int, base: timedelta) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base… after the 1st, 2nd, 3rd failure, capped."""
    delay: timedelta = base * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_BACKOFF)


def payload(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The body in the Standard Webhooks shape: type, timestamp, data."""
    return {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}


class WebhookStore(Protocol):
    async def subscriptions(self) -> list[Subscription]: ...

    async def subscription(self, subscription_id: int) -> Subscription | None: ...

    async def create(
        self,
        url: str,
        event_types: frozenset[str],
        description: str | None,
        secret: str,
        actor: str,
    ) -> Subscription: ...

    async def update(
        self,
        subscription_id: int,
        url: str | None,
        event_types: frozenset[str] | None,
        active: bool | None,
    ) -> Subscription | None: ...

    async def deliveries(
        self, subscription_id: int, status: DeliveryStatus | None, first: int, after: int | None
    ) -> list[Delivery]:
        """Newest first, ids below `after` when given."""
        ...

    async def attempts(self, delivery_ids: Sequence[int]) -> Mapping[int, Sequence[Attempt]]: ...

    async def retry(self, delivery_id: int) -> Delivery | None:
        """Send a dead (or pending) delivery again now, with a fresh attempt budget."""
        ...
