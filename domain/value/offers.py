"""Next best products: what customers like this one hold and this one does not.

Peers are the customers of the same kind in the same value tier (the latest scored month).
A product is eligible when it is offered to the customer's kind and not already held; offers
rank by the share of peers holding it. Nothing is offered without the customer's marketing
consent (consent is opt-in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from domain.customers.model import CustomerKind
from domain.value.tiers import ValueTier

MAX_OFFERS = 20


@dataclass(frozen=True, slots=True)
class Offer:
    product_id: int
    holders: int
    peers: int
    kind: CustomerKind
    tier: ValueTier
    period: date

    @property
    def peer_share(self) -> Decimal:
        return (Decimal(self.holders) / Decimal(self.peers)).quantize(Decimal("0.0001"))

    @property
    def reason(self) -> str:
        return (
            f"{self.holders:,} of {self.peers:,} {self.kind.value} customers in the "
            f"{self.tier.value} tier ({self.period:%Y-%m}) hold it"
        )


class OfferSource(Protocol):
    async def offers(self, customer_id: int, first: int) -> Sequence[Offer]: ...
