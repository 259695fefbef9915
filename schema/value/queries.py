"""valueRates: the rate book."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.value.types import ValueRates


@strawberry.type
class ValueQueries:
    @strawberry.field(description="The margins and costs contribution is computed with.")
    async def value_rates(self, info: Info) -> ValueRates:
        try:
            require(info, "valueRates")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return ValueRates.from_domain(await info.context.values.rates())
