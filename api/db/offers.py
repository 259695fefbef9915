"""SqlOfferSource: next best products from the peer-group snapshot of the latest scoring."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers.model import CustomerKind
from domain.value.offers import Offer
from domain.value.tiers import ValueTier

_OFFERS = """
SELECT pp.product_id, pp.holders, pp.peers, pp.kind, pp.tier, pp.period
FROM customers c
JOIN customer_values v
    ON v.customer_id = c.id AND v.period = (SELECT max(period) FROM value_periods)
JOIN value_peer_products pp ON pp.period = v.period AND pp.kind = c.kind AND pp.tier = v.tier
JOIN products p ON p.id = pp.product_id AND p.audience IN (c.kind, 'any')
WHERE c.id = :customer AND NOT EXISTS (
    SELECT 1 FROM holdings h
    WHERE h.customer_id = c.id AND h.product_id = pp.product_id AND h.status <> 'closed')
ORDER BY pp.holders DESC, pp.product_id
LIMIT :first
"""


class SqlOfferSource:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def offers(self, customer_id: int, first: int) -> Sequence[Offer]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(text(_OFFERS), {"customer": customer_id, "first": first})
            return [
                Offer(
                    product_id=r.product_id,
                    holders=r.holders,
                    peers=r.peers,
                    kind=CustomerKind(r.kind),
                    tier=ValueTier(r.tier),
                    period=r.period,
                )
                for r in rows
            ]
